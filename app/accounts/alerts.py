"""Low-balance alerts by mail: when the available balance falls below the partner's threshold,
its alert recipients get one message — at most one per 24 hours, however often the balance
dips, re-arms or is topped up in between (Tango Card's rule). The webhook event
`partner.balance_low` is separate and fires at every crossing."""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.numbers import format_currency
from sqlalchemy.orm import Session

from app.accounts.service import account_for
from app.core.audit import Actor, record_changes
from app.core.mail import clean_recipients, queue_mail
from app.core.tenancy import partner_name
from app.core.vault import Vault

ALERT_INTERVAL = timedelta(hours=24)


def set_recipients(
    session: Session, actor: Actor, partner_id: str, recipients: list[str]
) -> list[str]:
    cleaned = clean_recipients(recipients)
    account = account_for(session, partner_id, for_update=True)
    before = list(account.low_balance_recipients or [])
    account.low_balance_recipients = cleaned
    record_changes(
        session,
        actor,
        "account.low_balance_recipients_set",
        "partner_account",
        partner_id,
        {"recipients": before},
        {"recipients": cleaned},
        partner_id=partner_id,
    )
    return cleaned


def send_alert(session: Session, vault: Vault, partner_id: str, now: datetime) -> bool:
    """Mail the recipients if the balance is still low and no alert went out in the last 24
    hours; True when it mailed. The account row is locked: two jobs at once mail once."""
    account = account_for(session, partner_id, for_update=True)
    threshold = account.low_balance_threshold_minor
    recently = (
        account.low_balance_alerted_at is not None
        and now - account.low_balance_alerted_at < ALERT_INTERVAL
    )
    if (
        threshold is None
        or account.available.amount >= threshold
        or recently
        or not account.low_balance_recipients
    ):
        return False
    name = partner_name(session, partner_id)
    available = format_currency(account.available.amount / 100, account.currency, locale="zh_CN")
    limit = format_currency(threshold / 100, account.currency, locale="zh_CN")
    for address in account.low_balance_recipients:
        queue_mail(
            session,
            vault,
            address,
            f"[Quanyi] {name}: 账户余额不足 / balance low",
            f"{name} 的可用余额 {available} 已低于提醒阈值 {limit}。请及时充值，"
            "以免订单因余额不足被拒绝。\n\n"
            f"The available balance of {name} is {available}, below the alert "
            f"threshold of {limit}. Top up the account so that orders are not refused.\n",
        )
    account.low_balance_alerted_at = now
    return True
