"""Build real rows through the service functions, and talk to the API like a partner would."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.auth import service as auth_service
from app.auth.models import ApiClient
from app.core.audit import Actor
from app.core.money import Money
from app.partners import service as partner_service
from app.partners.models import Partner

TEST_ACTOR = Actor("system", "tests")


def partner_data(slug: str, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "slug": slug,
        "name": f"Partner {slug}",
        "kind": "bank",
        "status": "active",
        "timezone": "Asia/Shanghai",
        "branding": {
            "display_name": f"{slug} mall",
            "logo_url": None,
            "primary_color": "#112233",
            "accent_color": "#445566",
            "tagline": None,
        },
        "points": {"unit_name": "积分", "rate": {"points": 100, "value": Money(100, "CNY")}},
    }
    data.update(overrides)
    return data


def make_partner(session: Session, slug: str, **overrides: Any) -> Partner:
    partner = partner_service.create_partner(session, TEST_ACTOR, partner_data(slug, **overrides))
    session.commit()
    return partner


@dataclass(frozen=True)
class Credentials:
    """Plain strings (they outlive the session that created them, unlike ORM rows)."""

    client_id: str
    secret: str
    partner_id: str | None

    @classmethod
    def of(cls, issued: auth_service.IssuedClient) -> Credentials:
        return cls(issued.client.id, issued.secret, issued.client.partner_id)

    def client(self, session: Session) -> ApiClient:
        return session.get_one(ApiClient, self.client_id)


def make_client(
    session: Session, partner: Partner | None, scopes: list[str] | None = None
) -> Credentials:
    issued = auth_service.create_client(
        session,
        TEST_ACTOR,
        kind="platform" if partner is None else "partner",
        partner_id=None if partner is None else partner.id,
        name="tests",
        scopes=scopes,
    )
    session.commit()
    return Credentials.of(issued)


def basic_auth(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def request_token(http: FlaskClient, creds: Credentials, scope: str | None = None) -> Any:
    form = {"grant_type": "client_credentials"}
    if scope is not None:
        form["scope"] = scope
    return http.post("/oauth/token", data=form, headers=basic_auth(creds.client_id, creds.secret))


@dataclass
class ApiUser:
    """A test client holding one bearer token."""

    http: FlaskClient
    creds: Credentials
    token: str

    @classmethod
    def login(cls, http: FlaskClient, creds: Credentials, scope: str | None = None) -> ApiUser:
        response = request_token(http, creds, scope)
        assert response.status_code == 200, response.get_json()
        return cls(http, creds, response.get_json()["access_token"])

    @property
    def partner_id(self) -> str | None:
        return self.creds.partner_id

    def basic_auth(self) -> dict[str, str]:
        return basic_auth(self.creds.client_id, self.creds.secret)

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}", **(extra or {})}

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = self.headers(kwargs.pop("headers", None))
        return self.http.open(path, method=method, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.call("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.call("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.call("PUT", path, **kwargs)
