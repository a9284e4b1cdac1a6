"""Who is asking, and what they may do: one `Principal` per request, one permission table.

A principal is an API client (a bearer token; its OAuth scopes are its permissions), a staff
member (a portal session; permissions from the staff role) or a member (a mall session). Each
kind of credential has an authenticator, registered by the package that owns it (app/auth for
bearer tokens). A route declares what it needs with `@requires(permission, via=...)`: `via`
names the credential the route accepts, so a JSON API route never accepts a browser cookie.
Tenancy (`app.core.tenancy.current_partner_id`), idempotency scopes and the actor of audit rows
all read the principal.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flask import current_app, g, request
from flask_smorest import Blueprint

from app.core.audit import Actor
from app.core.errors import Forbidden, Unauthorized
from app.core.logging import note
from app.core.tenancy import PartnerSuspended, is_partner_active

# The one permission table. API clients are granted permissions as OAuth scopes; staff roles
# map onto the same names.
PERMISSIONS: dict[str, str] = {
    "catalog:read": "Read the catalog with this partner's prices and stock.",
    "members:read": "Read members, their points and ledgers.",
    "members:write": "Create and update members; grant and deduct points.",
    "orders:read": "Read orders.",
    "orders:write": "Place and cancel orders.",
    "entitlements:read": "Read members' entitlements (masked).",
    "entitlements:reveal": "Reveal a card code to its member (audited).",
    "billing:read": "Read the partner account, usage, invoices.",
    "billing:manage": "Request top-ups of the partner account; set its low-balance alert.",
    "webhooks:write": "Manage webhook endpoints and replay deliveries.",
    "listings:write": "Set member prices, sale windows, visibility and limits of listings.",
    "mall:launch": "Send a member into the partner's mall (a one-time launch link).",
    "mall:shop": "A member in the mall: browse, buy, see and reveal their own entitlements.",
    "staff:manage": "Invite staff, change their roles, disable them.",
    "developers:manage": "Create, rotate and revoke API clients, sandbox clients included.",
    "audit:read": "Read the audit log: every staff and API action, with before and after.",
    "platform": "Operate the platform: every partner, supply, settlement.",
    "platform:read": "Read every partner's data (the operator console's support and finance).",
}
PLATFORM_PERMISSIONS = ("platform", "platform:read")
MEMBER_PERMISSIONS = ("mall:shop",)  # a member principal's: never an API scope
PARTNER_PERMISSIONS = tuple(
    p for p in PERMISSIONS if p not in PLATFORM_PERMISSIONS and p not in MEMBER_PERMISSIONS
)

_READS = frozenset(
    {"catalog:read", "members:read", "orders:read", "entitlements:read", "billing:read"}
)
# staff roles (the admin portal signs staff in with one of these)
PARTNER_ROLES: dict[str, frozenset[str]] = {
    "owner": frozenset(PARTNER_PERMISSIONS),
    "admin": frozenset(PARTNER_PERMISSIONS),
    "operations": _READS | {"members:write", "orders:write", "webhooks:write", "listings:write"},
    "support": _READS | {"orders:write", "entitlements:reveal"},
    "finance": frozenset(
        {"billing:read", "billing:manage", "orders:read", "members:read", "audit:read"}
    ),
    "viewer": _READS,
}
PLATFORM_ROLES: dict[str, frozenset[str]] = {
    "operator": frozenset(PLATFORM_PERMISSIONS),
    "finance": frozenset({"platform:read"}),
    "support": frozenset({"platform:read"}),
}

PrincipalKind = Literal["api_client", "staff", "member"]
_ACTOR_KINDS = {"api_client": "client", "staff": "staff", "member": "member"}


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: str
    partner_id: str | None  # None: the platform
    permissions: frozenset[str]

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def actor(self) -> Actor:
        """The actor of the audit rows this principal's request writes."""
        return Actor(
            _ACTOR_KINDS[self.kind],
            self.id,
            ip=request.remote_addr if request else None,
            request_id=g.get("request_id"),
        )


class PermissionDenied(Forbidden):
    code = "insufficient_scope"


# An authenticator reads its credential from the request: None when the request carries none,
# a Principal when it is valid; it raises (401) when the credential is present but bad.
Authenticator = Callable[[], Principal | None]
BEARER = "bearer"


def register_authenticator(app: Any, via: str, authenticate: Authenticator) -> None:
    app.extensions.setdefault("quanyi_authenticators", {})[via] = authenticate


def requires(
    *permissions: str, via: str = BEARER
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare on a route what it needs: a principal authenticated `via` one kind of credential,
    holding every permission in `permissions`, of a partner that may act."""
    unknown = set(permissions) - set(PERMISSIONS)
    if unknown:
        raise ValueError(f"unknown permissions: {sorted(unknown)}")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            principal = current_app.extensions["quanyi_authenticators"][via]()
            if principal is None:
                raise Unauthorized("Sign in first.")
            if principal.kind == "api_client":
                note(client_id=principal.id)  # on the log line of a refusal too
            missing = [p for p in permissions if not principal.can(p)]
            if missing:
                raise PermissionDenied(f"This needs the permission {' '.join(missing)}.")
            session = current_app.extensions["quanyi_db"].session()
            if principal.partner_id and not is_partner_active(session, principal.partner_id):
                raise PartnerSuspended("This partner is suspended; contact the platform.")
            g.principal = principal
            return view(*args, **kwargs)

        wrapper.required_permissions = permissions  # type: ignore[attr-defined]
        security = [{"oauth2": list(permissions)}] if via == BEARER else []
        documented: Callable[..., Any] = Blueprint.doc(security=security)(wrapper)
        return documented

    return decorator
