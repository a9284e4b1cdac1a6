"""Authlib wiring: the client-credentials token endpoint, RFC 7009 revocation, RFC 7662
introspection, and the bearer-token authenticator behind `@requires` (app/core/principal.py).
"""

from __future__ import annotations

from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer, ResourceProtector
from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidScopeError, grants
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, Response, current_app, g, request

from app.auth import lockout, service
from app.auth.models import ALL_SCOPES, AccessToken, ApiClient
from app.core.error_catalog import CATALOG
from app.core.errors import DomainError, problem
from app.core.logging import note
from app.core.principal import BEARER, Principal, register_authenticator
from app.core.queue import redis_connection
from app.core.tenancy import is_partner_active

CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
REALM = "quanyi"


def _session() -> Any:
    from app.extensions import db

    return db.session()


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_token_request(self) -> None:
        """Asking for a scope the client was not granted is an error, not a silent narrowing;
        a suspended or closed partner's clients get no token."""
        super().validate_token_request()
        partner_id = self.request.client.partner_id
        if partner_id and not is_partner_active(_session(), partner_id):
            raise PartnerSuspendedError()
        requested = set((self.request.payload.scope or "").split())
        granted = set(self.request.client.scope.split())
        if not requested <= granted:
            raise InvalidScopeError(
                "Not granted to this client: " + " ".join(sorted(requested - granted))
            )


class PartnerSuspendedError(OAuth2Error):
    error = "partner_suspended"
    description = "This partner is suspended: no new tokens are issued."
    status_code = 403


class TokenRevocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> AccessToken | None:
        return service.find_token(_session(), token_string)

    def revoke_token(self, token: AccessToken, request: Any) -> None:
        service.revoke_token(token)


class TokenIntrospection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def query_token(self, token_string: str, token_type_hint: str | None) -> AccessToken | None:
        return service.find_token(_session(), token_string)

    def check_permission(self, token: AccessToken, client: ApiClient, request: Any) -> bool:
        """A client may introspect its own tokens; the platform may introspect any."""
        return token.client_id == client.id or client.kind == "platform"

    def introspect_token(self, token: AccessToken) -> dict[str, Any]:
        return {
            "active": True,
            "client_id": token.client_id,
            "token_type": "Bearer",
            "scope": token.scope,
            "exp": int(token.expires_at.timestamp()),
            "iat": int(token.issued_at.timestamp()),
            "partner_id": token.partner_id,
        }


class QuanyiAuthorizationServer(AuthorizationServer):
    def handle_response(self, status_code: int, payload: Any, headers: Any) -> Response:
        """Errors follow our problem+json convention, keeping RFC 6749's `error` member."""
        if status_code < 400:
            return super().handle_response(status_code, payload, headers)
        body = dict(payload)
        error = body.get("error", "invalid_request")
        extra_headers = {k: v for k, v in headers if k.lower() not in ("content-type",)}
        return problem(
            error,
            body.get("error_description") or None,
            status=status_code,
            headers=extra_headers,
            error=error,
        )


class TokenValidator(BearerTokenValidator):
    def authenticate_token(self, token_string: str) -> AccessToken | None:
        return current_token_for(token_string)


def current_token_for(token_string: str) -> AccessToken | None:
    """Look the token up once per request (the rate limiter and the route both need it)."""
    cache = g.setdefault("_token_cache", {})
    if token_string not in cache:
        cache[token_string] = service.find_token(_session(), token_string)
    return cache[token_string]


protector = ResourceProtector()
protector.register_token_validator(TokenValidator(realm=REALM))


def authorization_server() -> QuanyiAuthorizationServer:
    return current_app.extensions["quanyi_oauth"]


TOKEN_BODY_PARAMS = ("grant_type", "scope", "client_id", "client_secret")


def token_response() -> Response:
    """Token parameters travel in the body only (a secret in a query string lands in every
    proxy's log); failed client authentications lock the client id and the address out."""
    if any(name in request.args for name in TOKEN_BODY_PARAMS):
        return problem(
            "invalid_request",
            "Send grant_type, scope and client credentials in the form body, not the query.",
            error="invalid_request",
        )
    conn, client_id, address = redis_connection(current_app), _client_id(), request.remote_addr
    note(client_id=client_id)
    retry_after = lockout.locked_for(conn, client_id, address)
    if retry_after is not None:
        return problem(
            "too_many_failures",
            "Too many failed client authentications; try again later.",
            headers={"Retry-After": str(retry_after)},
        )
    response = authorization_server().create_token_response()
    if response.status_code == 401:
        lockout.record_failure(conn, client_id, address)
    return response


def _client_id() -> str | None:
    """The client id the request claims (HTTP Basic or form), before anything verifies it."""
    basic = request.authorization
    if basic is not None and basic.username:
        return basic.username
    return request.form.get("client_id") or None


def init_oauth(app: Flask) -> None:
    app.config.setdefault("OAUTH2_ACCESS_TOKEN_GENERATOR", "app.auth.service.generate_access_token")
    app.config["OAUTH2_SCOPES_SUPPORTED"] = list(ALL_SCOPES)
    authorization = QuanyiAuthorizationServer()
    app.extensions["quanyi_oauth"] = authorization
    authorization.init_app(
        app,
        query_client=lambda client_id: service.find_active_client(_session(), client_id),
        save_token=lambda token, request: service.store_token(_session(), request.client, token),
    )
    authorization.register_grant(ClientCredentialsGrant)
    authorization.register_endpoint(TokenRevocation)
    authorization.register_endpoint(TokenIntrospection)
    register_authenticator(app, BEARER, authenticate_bearer)


class AuthError(DomainError):
    code = "invalid_token"


def _auth_error(error: OAuth2Error) -> AuthError:
    status = error.status_code
    err = AuthError(error.get_error_description() or error.description or error.error)
    code = "insufficient_scope" if status == 403 else (error.error or "invalid_token")
    if code == "missing_authorization":
        code = "unauthorized"
    err.code, err.status, err.title = code, status, CATALOG[code].title
    err.headers = {k: v for k, v in error.get_headers() if k.lower() == "www-authenticate"}
    if status == 401 and not err.headers:
        err.headers = {"WWW-Authenticate": f'Bearer realm="{REALM}"'}
    return err


def authenticate_bearer() -> Principal:
    """The principal of the request's bearer token (its scopes are its permissions), or a 401
    as Authlib words it (missing, expired, revoked, malformed)."""
    try:
        token = protector.acquire_token(None)
    except OAuth2Error as error:
        raise _auth_error(error) from None
    return Principal(
        "api_client", token.client_id, token.partner_id, frozenset(token.scope.split())
    )


def bearer_token() -> AccessToken | None:
    """The request's bearer token row (not yet validated), for rate limiting."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    return current_token_for(header[7:].strip())
