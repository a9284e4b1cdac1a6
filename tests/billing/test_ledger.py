"""The partner account ledger: balance = sum of entries after any sequence of movements, each
entry's balance_after is the running sum, and no order charge spends past balance + credit."""

from __future__ import annotations

import contextlib

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from app.accounts import service
from app.accounts.models import AccountEntry, PartnerAccount
from app.core.errors import ValidationFailed
from tests.factories import TEST_ACTOR

AMOUNT = st.integers(1, 50_000)
OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("topup"), AMOUNT),
        st.tuples(st.just("charge"), AMOUNT),
        st.tuples(st.just("refund"), AMOUNT),
        st.tuples(st.just("adjust"), st.integers(-50_000, 50_000)),
        st.tuples(st.just("fee"), AMOUNT),
        st.tuples(st.just("tax"), AMOUNT),
        st.tuples(st.just("credit"), AMOUNT),
        st.tuples(st.just("credit_limit"), st.integers(0, 100_000)),
    ),
    max_size=30,
)


def _check(session, partner_id: str) -> None:
    account = session.get_one(PartnerAccount, partner_id)
    session.refresh(account)
    entries = session.scalars(
        select(AccountEntry).where(AccountEntry.partner_id == partner_id).order_by(AccountEntry.id)
    ).all()
    running = 0
    for entry in entries:
        running += entry.amount_minor
        assert entry.balance_after_minor == running, entry.kind
    assert account.balance_minor == running


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPERATIONS)
def test_balance_is_the_sum_of_the_entries(session, partner_a, ops):
    nested = session.begin_nested()
    pid = partner_a.id
    service.account_for(session, pid)
    for kind, amount in ops:
        account = session.get_one(PartnerAccount, pid)
        session.refresh(account)
        available_before = account.available.amount
        if kind == "topup":
            service.top_up(session, TEST_ACTOR, pid, amount, "prop")
        elif kind == "charge":
            with contextlib.suppress(service.InsufficientPartnerBalance):
                service.charge_order(session, pid, amount, "ord_prop")
                assert amount <= available_before  # charged only what was available
            session.flush()
            session.refresh(account)
            assert account.available.amount >= min(0, available_before)
        elif kind == "refund":
            service.refund_order(session, pid, amount, "ord_prop", "prop")
        elif kind == "adjust":
            with contextlib.suppress(ValidationFailed):  # zero is refused
                service.adjust(session, TEST_ACTOR, pid, amount, "prop")
        elif kind in ("fee", "tax"):
            service.post_entry(session, pid, kind, -amount, "invoice prop")
        elif kind == "credit":
            service.post_entry(session, pid, kind, amount, "credit prop")
        else:
            service.set_credit_limit(session, TEST_ACTOR, pid, amount)
        session.flush()
        _check(session, pid)
    nested.rollback()


def test_an_account_in_credit_matches_the_published_schema(app, api_a, session, partner_a):
    """A balance below zero (the partner spends its credit) is what the spec allows: it
    published `minimum: 0` once."""
    import schemathesis
    from schemathesis.checks import response_schema_conformance

    from tests.factories import fund, make_member, place, sellable_card_key_listing

    fund(session, partner_a, amount_minor=1000, credit_minor=100_000)
    listing = sellable_card_key_listing(session, partner_a, codes=1, wholesale_minor=5000)
    place(session, partner_a, make_member(session, partner_a, "m1", points=5000), listing)
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)["/api/v1/account"]
    case = operation["GET"].Case(headers={"Authorization": f"Bearer {api_a.token}"})
    response = case.call()
    assert response.json()["balance"]["amount"] == -4000
    case.validate_response(response, checks=(response_schema_conformance,))
