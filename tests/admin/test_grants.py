"""Bulk grants: a file is checked whole (one bad row: nothing moves, every error shown), applied
all or nothing by a job, never twice, above the threshold only after a second staff member."""

from __future__ import annotations

import csv
import io

from sqlalchemy import func, select

from app.core.queue import drain
from app.members.models import Member, PointsEntry, PointsGrantBatch
from app.members.service import MemberChanges, upsert_member
from tests.admin.conftest import csrf_of, make_staff, sign_in
from tests.factories import TEST_ACTOR, vault_for_tests

ROWS = 5_000


def _members(session, partner, count: int) -> None:
    for n in range(count):
        upsert_member(
            session, TEST_ACTOR, partner.id, f"emp-{n}", MemberChanges.of({}), vault_for_tests()
        )
    session.commit()


def _csv(rows: list[tuple[str, str, str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(("external_id", "amount", "expires_at", "reason"))
    writer.writerows(rows)
    return out.getvalue().encode()


def _upload(portal, raw: bytes, name: str = "allowance.csv"):
    token = csrf_of(portal.get("/admin/grants").get_data(as_text=True))
    return portal.post(
        "/admin/grants",
        data={"csrf_token": token, "file": (io.BytesIO(raw), name)},
        content_type="multipart/form-data",
    )


def _post(portal, page: str, action: str):
    return portal.post(
        action, data={"csrf_token": csrf_of(portal.get(page).get_data(as_text=True))}
    )


def _granted(session, partner) -> int:
    session.expire_all()
    return session.scalar(
        select(func.coalesce(func.sum(Member.points_balance), 0)).where(
            Member.partner_id == partner.id
        )
    )


def test_a_file_with_one_bad_row_grants_nothing_then_the_fixed_file_applies_once(
    app, session, browser_of, partner_a, empty_queues
):
    _members(session, partner_a, 50)
    rows = [(f"emp-{n % 50}", "100", "2027-12-31", "2027 allowance") for n in range(ROWS)]
    bad = list(rows)
    bad[1233] = ("emp-3", "12x", "2027-12-31", "2027 allowance")  # line 1235 with the header
    staff = make_staff(session, partner_a.id, "operations")
    portal = browser_of()
    sign_in(portal, staff)

    answer = _upload(portal, _csv(bad))
    batch_page = answer.headers["Location"]
    page = portal.get(batch_page).get_data(as_text=True)
    assert "invalid" in page and "1235" in page and "amount must be a whole number" in page
    assert 'data-testid="apply"' not in page
    assert _granted(session, partner_a) == 0

    fixed = _csv(rows)
    ready = _upload(portal, fixed, "allowance-fixed.csv").headers["Location"]
    assert "ready" in portal.get(ready).get_data(as_text=True)
    assert _post(portal, ready, ready + "/apply").status_code == 302
    again = _post(portal, ready, ready + "/apply")  # a double click
    assert again.status_code == 409
    drain(app)
    assert _granted(session, partner_a) == ROWS * 100
    assert session.scalar(select(func.count()).select_from(PointsEntry)) == ROWS
    page = portal.get(ready).get_data(as_text=True)
    assert "applied" in page and 'value="5000"' in page

    # the same file again: the same batch, nothing granted twice
    same = _upload(portal, fixed, "copy-of-allowance.csv")
    assert same.headers["Location"] == ready
    drain(app)
    assert _granted(session, partner_a) == ROWS * 100

    report = portal.get(ready + "/report.csv").get_data(as_text=True).lstrip("\ufeff")
    lines = list(csv.DictReader(io.StringIO(report)))
    assert len(lines) == ROWS and {line["result"] for line in lines} == {"granted"}


def test_unknown_members_are_errors_not_new_members(session, browser_of, partner_a):
    _members(session, partner_a, 1)
    staff = make_staff(session, partner_a.id, "operations")
    portal = browser_of()
    sign_in(portal, staff)
    location = _upload(portal, _csv([("emp-0", "5", "", "x"), ("typo-7", "5", "", "x")])).headers[
        "Location"
    ]
    page = portal.get(location).get_data(as_text=True)
    assert "no member &#39;typo-7&#39;" in page
    assert session.scalar(select(func.count()).select_from(Member)) == 1
    batch = session.scalars(select(PointsGrantBatch)).one()
    assert (batch.row_count, batch.error_count, batch.status) == (2, 1, "invalid")


def test_a_file_above_the_threshold_waits_for_another_staff_member(
    app, session, browser_of, partner_a, empty_queues
):
    _members(session, partner_a, 2)
    maker = make_staff(session, partner_a.id, "operations")
    checker = make_staff(session, partner_a.id, "admin")
    portal, other = browser_of(), browser_of()
    sign_in(portal, maker)
    sign_in(other, checker)
    big = _csv([("emp-0", "900000", "", "campaign"), ("emp-1", "900000", "", "campaign")])
    location = _upload(portal, big).headers["Location"]
    assert "awaiting_approval" in portal.get(location).get_data(as_text=True)
    own = _post(portal, location, location + "/apply")
    assert own.status_code == 409
    drain(app)
    assert _granted(session, partner_a) == 0
    assert _post(other, location, location + "/apply").status_code == 302
    drain(app)
    assert _granted(session, partner_a) == 1_800_000
    batch = session.scalars(select(PointsGrantBatch)).one()
    assert batch.approved_by == checker.id and batch.status == "applied"


def test_other_partners_and_read_only_roles_cannot_touch_a_batch(
    session, browser_of, partner_a, partner_b
):
    _members(session, partner_a, 1)
    maker = make_staff(session, partner_a.id, "operations")
    stranger = make_staff(session, partner_b.id, "admin")
    viewer = make_staff(session, partner_a.id, "viewer")
    portal = browser_of()
    sign_in(portal, maker)
    location = _upload(portal, _csv([("emp-0", "5", "", "x")])).headers["Location"]
    for who, expected in ((stranger, 404), (viewer, 403)):
        browser = browser_of()
        sign_in(browser, who)
        assert browser.get(location).status_code == expected
