"""insert_rows: write-once rows inserted without the unit of work (members and their ledger
entries stand for any parent and child rows here: they are written by hand)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from app.core.audit import AuditLog
from app.core.db import STATEMENT_PARAMETERS, STATEMENT_ROWS, insert_rows, utcnow
from app.members.models import Member, PointsEntry
from app.webhooks.models import Event
from tests.factories import sql_statements

pytestmark = pytest.mark.ledger_rows_by_hand


def test_tables_in_first_met_order_with_defaults_applied(session, partner_a):
    rows = [
        Event(type="a.one", data={"n": 1}, partner_id=partner_a.id),
        AuditLog(actor_kind="system", actor_id="t", action="x", target_type="t", target_id="1"),
        Event(type="a.two", data={"n": 2}, partner_id=partner_a.id),
    ]
    with sql_statements(session) as statements:
        insert_rows(session, rows)
    writes = [" ".join(s.split()) for s in statements if s.startswith(("insert", "with"))]
    if session.get_bind().dialect.name == "postgresql":  # one statement, a JSON row each
        (write,) = writes  # in the order given: the last row the statement's own INSERT
        assert write.startswith("with rows_0 as (insert into events ")
        assert "rows_1 as (insert into audit_log " in write and write.count("%(") == 3
        assert write.endswith(
            ") insert into events select * from json_populate_record(null::events, %(r2)s::json)"
        )
    else:  # one INSERT per table, in the order first met
        assert [" ".join(w.split()[:3]) for w in writes] == [
            "insert into events",
            "insert into audit_log",
        ]
    # defaults are on the objects as written; they stay out of the session (nothing to flush)
    assert all(r.id and r not in session for r in rows)
    assert rows[0].created_at is not None and rows[0].dispatched_at is None
    assert rows[1].occurred_at is not None
    session.commit()
    stored = {e.type: e for e in session.scalars(select(Event).where(Event.type.like("a.%")))}
    assert {t: (e.id, e.data, e.created_at) for t, e in stored.items()} == {
        "a.one": (rows[0].id, {"n": 1}, rows[0].created_at),
        "a.two": (rows[2].id, {"n": 2}, rows[2].created_at),
    }
    assert session.get(AuditLog, rows[1].id) is not None


def test_on_postgresql_statements_keep_to_what_psycopg_caches(session, partner_a):
    """Rows share statements of at most STATEMENT_ROWS rows, STATEMENT_PARAMETERS parameters
    and 4 KB (psycopg parses a longer one again on every execution); every row is written
    once."""
    rows = [
        AuditLog(actor_kind="system", actor_id="t", action="y", target_type="t", target_id="1"),
        *(Event(type=f"d.{n}", data={"n": n}, partner_id=partner_a.id) for n in range(40)),
    ]
    with sql_statements(session) as statements:
        insert_rows(session, rows)
    writes = [s for s in statements if s.startswith(("insert", "with"))]
    if session.get_bind().dialect.name == "postgresql":  # a row a parameter
        assert [s.count("%(") for s in writes] == [STATEMENT_ROWS, 41 - STATEMENT_ROWS]
        assert STATEMENT_ROWS <= STATEMENT_PARAMETERS and all(len(s) <= 4096 for s in writes)
        assert sum(s.count("insert into events ") for s in writes) == 40
    else:
        assert len(writes) == 2  # one per table
    session.commit()
    stored = session.scalars(select(Event.data).where(Event.type.like("d.%"))).all()
    assert sorted(d["n"] for d in stored) == list(range(40))


def test_values_read_back_as_written(session, partner_a):
    """On PostgreSQL the rows travel as JSON: text, timestamps (to the microsecond), JSON
    documents and a JSON column's None come back as they were given."""
    when = datetime(2026, 11, 30, 23, 59, 58, 123456, tzinfo=UTC)
    audit = AuditLog(
        occurred_at=when,
        actor_kind="system",
        actor_id='测试 "quoted" \\ back',
        action="z",
        target_type="t",
        target_id="1",
        before=None,
        after={"名": ["张三", 1, 2.5, True, None]},
    )
    insert_rows(session, [audit])
    session.commit()
    session.expire_all()
    stored = session.get_one(AuditLog, audit.id)
    assert (stored.occurred_at, stored.actor_id, stored.before, stored.after) == (
        when,
        audit.actor_id,
        None,
        {"名": ["张三", 1, 2.5, True, None]},
    )


def test_rolled_back_with_the_transaction(session, partner_a):
    row = Event(type="b.one", data={}, partner_id=partner_a.id)
    insert_rows(session, [row])
    session.rollback()
    assert session.get(Event, row.id) is None


def test_a_parent_and_its_children_in_one_call(session, partner_a):
    """Parents first (as given), and an attribute is written to its
    column (Member.extra is `metadata`)."""
    member = Member(partner_id=partner_a.id, external_id="ins-1", extra={"k": "v"})
    entries = [
        PointsEntry(
            partner_id=partner_a.id, member_id=member.id, kind="grant", delta=d, balance_after=d
        )
        for d in (5, 1)
    ]
    insert_rows(session, [member, *entries])
    session.commit()
    assert session.get_one(Member, member.id).extra == {"k": "v"}
    stored = session.scalars(select(PointsEntry.delta).where(PointsEntry.member_id == member.id))
    assert sorted(stored) == [1, 5]


def test_a_child_without_its_parent_is_refused_and_the_call_rolled_back(session, partner_a):
    event = Event(type="c.one", data={}, partner_id=partner_a.id)
    orphan = PointsEntry(
        partner_id=partner_a.id, member_id="mem_missing", kind="grant", delta=1, balance_after=1
    )
    with pytest.raises(IntegrityError):
        insert_rows(session, [event, orphan])
    session.rollback()
    assert session.get(Event, event.id) is None


def test_companion_statements_go_with_the_rows(session, partner_a):
    """A statement that belongs with the rows (a spend's balance UPDATE with its ledger entry)
    shares their statement on PostgreSQL, and runs before them elsewhere; both take effect."""
    member = Member(partner_id=partner_a.id, external_id="ins-c", extra={}, points_balance=5)
    session.add(member)
    session.flush()
    entry = PointsEntry(
        partner_id=partner_a.id, member_id=member.id, kind="deduct", delta=-2, balance_after=3
    )
    new_balance = (
        update(Member)
        .where(Member.id == bindparam("who"))
        .values(points_balance=3, updated_at=bindparam("at"))
    )
    with sql_statements(session) as statements:
        insert_rows(session, [entry], [(new_balance, {"who": member.id, "at": utcnow()})])
    writes = [" ".join(s.split()) for s in statements if s.startswith(("insert", "with", "update"))]
    if session.get_bind().dialect.name == "postgresql":
        (write,) = writes
        assert write.startswith("with companion_0 as (update members set ")
        assert write.endswith(
            "insert into points_entries select * from json_populate_record("
            "null::points_entries, %(r0)s::json)"
        )
    else:
        assert [" ".join(w.split()[:2]) for w in writes] == ["update members", "insert into"]
    session.expire_all()
    assert session.get_one(Member, member.id).points_balance == 3
    assert session.get_one(PointsEntry, entry.id).balance_after == 3
