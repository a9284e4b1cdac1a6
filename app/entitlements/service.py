"""Reading entitlements, and revealing a code: the only path from the vault to a person."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.core.audit import Actor, record_audit
from app.core.errors import Conflict
from app.core.pagination import Page, paginate
from app.core.tenancy import get_owned, scoped
from app.core.vault import Vault
from app.entitlements.models import Entitlement
from app.members.models import Member
from app.supply.imports import reveal_code
from app.supply.models import Code


class NothingToReveal(Conflict):
    code, title = "nothing_to_reveal", "Nothing to reveal"


def list_entitlements(
    session: Session, partner_id: str, member: Member, limit: int, cursor: str | None
) -> Page[Entitlement]:
    stmt = scoped(Entitlement, partner_id).where(Entitlement.member_id == member.id)
    return paginate(session, stmt, Entitlement.id, limit, cursor)


def reveal(
    session: Session, actor: Actor, vault: Vault, partner_id: str, entitlement_id: str
) -> tuple[Entitlement, str, str | None]:
    """Open the entitlement's code for its owner's partner; every reveal leaves an audit row
    (client, time, IP) — without the code."""
    entitlement = get_owned(
        session, Entitlement, partner_id, Entitlement.id == entitlement_id, label="Entitlement"
    )
    if entitlement.code_id is None:
        raise NothingToReveal("This entitlement has no code (direct recharge or link).")
    if entitlement.status != "active":
        raise NothingToReveal(f"This entitlement is {entitlement.status}.")
    code, password = reveal_code(vault, session.get_one(Code, entitlement.code_id))
    # counted in the database (concurrent reveals each get their own number), then read back
    reveal_number = session.execute(
        update(Entitlement)
        .where(Entitlement.id == entitlement.id)
        .values(revealed_count=Entitlement.revealed_count + 1)
        .returning(Entitlement.revealed_count)
        .execution_options(synchronize_session=False)
    ).scalar_one()
    set_committed_value(entitlement, "revealed_count", reveal_number)
    record_audit(
        session,
        actor,
        "entitlement.revealed",
        "entitlement",
        entitlement.id,
        partner_id=partner_id,
        after={
            "client_id": actor.id,
            "ip": actor.ip,
            "masked_code": entitlement.masked_code,
            "reveal_number": reveal_number,
        },
    )
    return entitlement, code, password
