"""Every pattern checks the whole value: a trailing newline (which Python's `$` lets through)
is refused, one input per pattern."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError

from app.billing.documents import COLOR_RE
from app.billing.invoices import PERIOD_RE
from app.billing.schemas import InvoiceQuerySchema
from app.core.ids import ID_RE, new_id
from app.core.logging import _SAFE_REQUEST_ID
from app.core.money import MoneySchema
from app.members.schemas import MemberUpsertSchema
from app.members.service import EXTERNAL_ID_RE
from app.partners.schemas import BrandingSchema, PartnerSchema
from app.supply.products import ACCOUNT_PATTERNS, recharge_account_error

BRANDING = {"display_name": "x", "primary_color": "#112233", "accent_color": "#445566"}


@pytest.mark.parametrize(
    ("schema", "field", "good"),
    [
        (MemberUpsertSchema(), "phone", "13912345678"),
        (MoneySchema(), "currency", "CNY"),
        (InvoiceQuerySchema(), "period", "2026-11"),
        (BrandingSchema(), "primary_color", "#112233"),
        (PartnerSchema(partial=True), "slug", "jinhai-bank"),
    ],
)
def test_a_schema_pattern_refuses_a_trailing_newline(schema, field, good):
    base = {"amount": 1} if isinstance(schema, MoneySchema) else {}
    if isinstance(schema, BrandingSchema):
        base = dict(BRANDING)
    schema.load({**base, field: good})
    with pytest.raises(ValidationError) as refused:
        schema.load({**base, field: good + "\n"})
    assert field in refused.value.messages


@pytest.mark.parametrize(
    ("pattern", "good"),
    [
        (EXTERNAL_ID_RE, "a-member-1"),
        (PERIOD_RE, "2026-11"),
        (COLOR_RE, "#112233"),
        (ID_RE, new_id("ord")),
        (_SAFE_REQUEST_ID, "req-1"),
    ],
)
def test_a_compiled_pattern_is_used_whole(pattern, good):
    assert pattern.fullmatch(good) and not pattern.fullmatch(good + "\n")


@pytest.mark.parametrize("kind", sorted(ACCOUNT_PATTERNS))
def test_a_recharge_account_with_a_trailing_newline_is_refused(kind):
    good = {"phone": "13912345678", "qq": "123456", "email": "a@b.cn", "account_id": "abc"}[kind]
    assert recharge_account_error(kind, good) is None
    assert recharge_account_error(kind, good + "\n") is not None


def test_a_member_id_with_a_trailing_newline_makes_no_twin(api_a):
    made = api_a.put("/api/v1/members/a-member-1", json={})
    assert made.status_code in (200, 201)
    twin = api_a.put("/api/v1/members/a-member-1%0A", json={})
    assert twin.status_code == 422 and twin.get_json()["code"] == "validation_error"
