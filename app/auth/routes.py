"""OAuth2 endpoints. Bodies are form-encoded, as RFC 6749 requires; Authlib does the protocol."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_smorest import Blueprint

from app.auth.oauth import (
    TokenIntrospection,
    TokenRevocation,
    authorization_server,
    token_response,
)
from app.core.openapi import raises

blp = Blueprint("oauth", __name__, url_prefix="/oauth", description="OAuth2 client credentials")

_FORM_AUTH: dict[str, Any] = {
    "security": [{"clientBasic": []}, {}],
}


def _form_body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": properties, "required": required}
            }
        },
    }


_TOKEN_PARAMS: dict[str, Any] = {
    "token": {"type": "string"},
    "token_type_hint": {"type": "string", "enum": ["access_token"]},
    "client_id": {"type": "string", "description": "with client_secret_post"},
    "client_secret": {"type": "string", "description": "with client_secret_post"},
}


CLIENT_AUTH_ERRORS = ("invalid_request", "invalid_client", "too_many_failures")


@blp.route("/token", methods=["POST"])
@raises(*CLIENT_AUTH_ERRORS, "unsupported_grant_type", "invalid_scope", "partner_suspended")
@blp.doc(
    summary="Get an access token (grant client_credentials)",
    description=(
        "Authenticate with the client id and secret (HTTP Basic, or `client_secret_post`) and"
        " get a bearer token for `expires_in` seconds. Cache it until shortly before it"
        " expires: this endpoint checks a hashed secret on purpose slowly, and repeated"
        " failures lock the client id and address out for a while (`too_many_failures`)."
    ),
    requestBody=_form_body(
        {
            "grant_type": {"type": "string", "enum": ["client_credentials"]},
            "scope": {"type": "string", "description": "space-separated; default: all granted"},
            "client_id": {"type": "string", "description": "with client_secret_post"},
            "client_secret": {"type": "string", "description": "with client_secret_post"},
        },
        ["grant_type"],
    ),
    responses={
        "200": {
            "description": "The token.",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {
                            "access_token": {"type": "string"},
                            "token_type": {"type": "string", "enum": ["Bearer"]},
                            "expires_in": {"type": "integer"},
                            "scope": {"type": "string"},
                        },
                        "required": ["access_token", "token_type", "expires_in", "scope"],
                    }
                }
            },
        }
    },
    **_FORM_AUTH,
)
def issue_token() -> Response:
    return token_response()


@blp.route("/revoke", methods=["POST"])
@raises(*CLIENT_AUTH_ERRORS, "unsupported_token_type")
@blp.doc(
    summary="Revoke a token (RFC 7009)",
    description="A client revokes one of its own tokens; it stops working at once.",
    requestBody=_form_body(_TOKEN_PARAMS, ["token"]),
    responses={"200": {"description": "revoked, or unknown (RFC 7009 answers 200 either way)"}},
    **_FORM_AUTH,
)
def revoke_token() -> Response:
    return authorization_server().create_endpoint_response(TokenRevocation.ENDPOINT_NAME)


@blp.route("/introspect", methods=["POST"])
@raises(*CLIENT_AUTH_ERRORS, "unsupported_token_type")
@blp.doc(
    summary="Introspect a token (RFC 7662)",
    description="Whether one of the client's own tokens is active, with its scope and expiry.",
    requestBody=_form_body(_TOKEN_PARAMS, ["token"]),
    responses={"200": {"description": "active, scope, client_id, exp, iat, partner_id"}},
    **_FORM_AUTH,
)
def introspect_token() -> Response:
    return authorization_server().create_endpoint_response(TokenIntrospection.ENDPOINT_NAME)
