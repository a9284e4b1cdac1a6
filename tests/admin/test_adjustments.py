"""Points adjustments by staff under maker–checker: small ones apply at once, big ones wait for
a second staff member, nobody approves their own, and none is applied twice (also when two
approvers click at the same moment, on PostgreSQL)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.core.audit import Actor
from app.core.db import utcnow
from app.members import adjustments
from app.members.models import Member, PointsAdjustment
from tests.admin.conftest import make_staff, post_form, sign_in
from tests.factories import make_member


def _balance(session, member_id: str) -> int:
    session.expire_all()
    return session.get_one(Member, member_id).points_balance


def test_small_adjustments_apply_at_once_big_ones_wait_for_a_colleague(
    session, browser_of, partner_a
):
    member = make_member(session, partner_a, "m-9", points=1_000)
    maker = make_staff(session, partner_a.id, "operations")
    checker = make_staff(session, partner_a.id, "admin")
    page = "/admin/members/m-9"
    maker_portal, checker_portal = browser_of(), browser_of()
    sign_in(maker_portal, maker)
    sign_in(checker_portal, checker)

    post_form(maker_portal, page, {"delta": "500", "reason": "goodwill"}, f"{page}/adjust")
    assert _balance(session, member.id) == 1_500
    post_form(maker_portal, page, {"delta": "50000", "reason": "campaign"}, f"{page}/adjust")
    assert _balance(session, member.id) == 1_500  # waits
    pending = session.scalars(
        select(PointsAdjustment).where(PointsAdjustment.status == "pending")
    ).one()
    approve = f"/admin/approvals/{pending.id}/approve"
    own = post_form(maker_portal, "/admin/approvals", {}, approve)
    assert own.status_code == 409 and "self_approval" in own.get_data(as_text=True)
    assert _balance(session, member.id) == 1_500
    assert post_form(checker_portal, "/admin/approvals", {}, approve).status_code == 302
    assert _balance(session, member.id) == 51_500
    again = post_form(checker_portal, "/admin/approvals", {}, approve)
    assert again.status_code == 409 and _balance(session, member.id) == 51_500


def test_a_rejected_adjustment_moves_nothing_and_a_viewer_cannot_adjust(
    session, browser_of, partner_a
):
    member = make_member(session, partner_a, "m-9", points=1_000)
    maker = make_staff(session, partner_a.id, "operations")
    viewer = make_staff(session, partner_a.id, "viewer")
    portal = browser_of()
    sign_in(portal, maker)
    page = "/admin/members/m-9"
    post_form(portal, page, {"delta": "-20000", "reason": "fraud"}, f"{page}/adjust")
    pending = session.scalars(select(PointsAdjustment)).one()
    post_form(portal, "/admin/approvals", {}, f"/admin/approvals/{pending.id}/reject")
    session.expire_all()
    assert session.get_one(PointsAdjustment, pending.id).status == "rejected"
    assert _balance(session, member.id) == 1_000
    looker = browser_of()
    sign_in(looker, viewer)
    refused = post_form(looker, page, {"delta": "5", "reason": "x"}, f"{page}/adjust")
    assert refused.status_code == 403 and _balance(session, member.id) == 1_000


def test_another_partners_staff_cannot_see_or_decide_an_adjustment(
    session, browser_of, partner_a, partner_b
):
    make_member(session, partner_a, "m-9", points=1_000)
    maker = make_staff(session, partner_a.id, "operations")
    stranger = make_staff(session, partner_b.id, "admin")
    portal = browser_of()
    sign_in(portal, maker)
    page = "/admin/members/m-9"
    post_form(portal, page, {"delta": "90000", "reason": "big"}, f"{page}/adjust")
    pending = session.scalars(select(PointsAdjustment)).one()
    other = browser_of()
    sign_in(other, stranger)
    assert pending.id not in other.get("/admin/approvals").get_data(as_text=True)
    answer = post_form(other, "/admin/approvals", {}, f"/admin/approvals/{pending.id}/approve")
    assert answer.status_code == 404


@pytest.mark.postgres
def test_two_approvers_at_once_apply_the_adjustment_once(app, session, partner_a):
    from app.extensions import db

    member = make_member(session, partner_a, "m-9", points=0)
    pending = adjustments.request_adjustment(
        session,
        Actor("staff", "stf_maker"),
        partner_a.id,
        "m-9",
        75_000,
        "campaign",
        threshold=10_000,
        now=utcnow(),
    )
    session.commit()
    pending_id = pending.id
    db.session.remove()
    barrier = threading.Barrier(6)
    outcomes: list[str] = []

    def approve(n: int) -> None:
        try:
            with app.app_context(), db.transaction() as own:
                barrier.wait()
                adjustments.decide(
                    own,
                    Actor("staff", f"stf_checker{n}"),
                    partner_a.id,
                    pending_id,
                    approve=True,
                    now=utcnow(),
                )
            outcomes.append("applied")
        except adjustments.AdjustmentDecided:
            outcomes.append("decided")

    threads = [threading.Thread(target=approve, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["applied"] + ["decided"] * 5
    assert _balance(db.session(), member.id) == 75_000
