"""Suppliers' statements (CSV) parsed into rows, with clear errors for what cannot be read."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from app.core.errors import NUL, NUL_MESSAGE, ValidationFailed
from app.supply.suppliers import PLATFORM_TZ

SUCCESS, FAILED = "success", "failed"

STATUS_WORDS = {
    "success": SUCCESS, "succeeded": SUCCESS, "ok": SUCCESS, "成功": SUCCESS,
    "failed": FAILED, "fail": FAILED, "failure": FAILED, "失败": FAILED,
}  # fmt: skip

MAX_STATEMENT_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class StatementRow:
    line: int
    reference: str | None
    supplier_order_no: str | None
    status: str
    amount_minor: int
    completed_at: datetime | None


MAX_STATEMENT_AMOUNT = Decimal("10000000000")  # ¥10 billion: beyond that it is not an amount


def _minor(text: str) -> int:
    amount = Decimal(text.replace(",", "").strip())
    if amount != amount.quantize(Decimal("0.01")) or abs(amount) > MAX_STATEMENT_AMOUNT:
        raise InvalidOperation
    return int(amount * 100)


def parse_statement(raw: bytes) -> list[StatementRow]:
    """A supplier statement CSV with a header: reference (our delivery id) and/or
    supplier_order_no, status, amount (yuan, e.g. 20.00), optional completed_at (ISO).
    All or nothing: every bad line is named."""
    if len(raw) > MAX_STATEMENT_BYTES:
        raise ValidationFailed({"file": ["Larger than 20 MiB."]})
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ValidationFailed({"file": ["Not UTF-8 text."]}) from None
    if NUL in text:
        raise ValidationFailed({"file": [NUL_MESSAGE]})
    reader = csv.DictReader(io.StringIO(text))
    header = {(name or "").strip() for name in reader.fieldnames or []}
    missing = {"status", "amount"} - header
    if missing or not header & {"reference", "supplier_order_no"}:
        raise ValidationFailed(
            {"file": ["Needs columns status, amount and reference or supplier_order_no."]}
        )
    rows, errors = [], {}
    for line, record in enumerate(reader, start=2):
        record = {(k or "").strip(): (v or "").strip() for k, v in record.items()}
        reference = record.get("reference") or None
        order_no = record.get("supplier_order_no") or None
        status = STATUS_WORDS.get(record.get("status", "").lower())
        problems = []
        if not reference and not order_no:
            problems.append("no reference or supplier_order_no")
        if len(reference or "") > 120 or len(order_no or "") > 120:
            problems.append("reference and supplier_order_no are at most 120 characters")
        if status is None:
            problems.append(f"unknown status {record.get('status')!r}")
        try:
            amount = _minor(record.get("amount", ""))
        except (InvalidOperation, ValueError):
            problems.append(f"amount {record.get('amount')!r} is not a yuan amount")
            amount = 0
        completed_at = None
        if record.get("completed_at"):
            try:
                completed_at = datetime.fromisoformat(record["completed_at"])
                if completed_at.tzinfo is None:
                    completed_at = completed_at.replace(tzinfo=PLATFORM_TZ)
                if not 1970 < completed_at.year < 3000:
                    raise ValueError
            except ValueError:
                problems.append(f"completed_at {record['completed_at']!r} is not ISO 8601")
        if problems:
            errors[f"line {line}"] = problems
            continue
        rows.append(StatementRow(line, reference, order_no, status or "", amount, completed_at))
    if errors:
        raise ValidationFailed(errors)
    if not rows:
        raise ValidationFailed({"file": ["The statement has no rows."]})
    return rows


def statement_period(rows: list[StatementRow]) -> tuple[date, date]:
    days = [r.completed_at.astimezone(PLATFORM_TZ).date() for r in rows if r.completed_at]
    if not days:
        raise ValidationFailed(
            {"from": ["The statement has no completed_at dates: give 'from' and 'to'."]}
        )
    return min(days), date.fromordinal(max(days).toordinal() + 1)
