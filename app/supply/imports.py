"""Card-key batches: CSV import (all-or-nothing), voiding, counts, and vault key rotation.

No function here logs, audits or returns a plaintext code or password; errors name lines.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.core.audit import Actor, record_audit
from app.core.db import get_or_404, inline_count, utcnow
from app.core.errors import NUL, NUL_MESSAGE
from app.core.ids import new_id
from app.core.pagination import Page, paginate
from app.core.vault import Vault
from app.supply.errors import CodeImportRejected, SupplyConflict
from app.supply.models import Code, CodeBatch, Offer, Product, Supplier
from app.supply.stock import check_low_stock
from app.supply.suppliers import PLATFORM_TZ, platform_today, serving_authorizations

MAX_IMPORT_BYTES = 16 * 1024 * 1024
MAX_CODE_LENGTH = 200
FINGERPRINT_CHUNK = 500


@dataclass(frozen=True)
class CodeRow:
    line: int
    code: str
    password: str | None
    expires_at: datetime | None


def _parse_expiry(value: str) -> datetime:
    """ISO date (end of that day in China) or ISO datetime (naive = China time)."""
    if len(value) == 10:
        day = datetime.fromisoformat(value)
        return day.replace(hour=23, minute=59, second=59, tzinfo=PLATFORM_TZ).astimezone(UTC)
    moment = datetime.fromisoformat(value)
    return (moment if moment.tzinfo else moment.replace(tzinfo=PLATFORM_TZ)).astimezone(UTC)


def parse_code_csv(raw: bytes) -> list[CodeRow]:
    """Columns `code[,password][,expires_at]`, optional header row. Raises CodeImportRejected
    listing every bad line; a file that is not UTF-8 names the first line that is not."""
    if len(raw) > MAX_IMPORT_BYTES:
        raise CodeImportRejected(
            [
                {
                    "line": None,
                    "message": f"file is larger than {MAX_IMPORT_BYTES // (1024 * 1024)} MiB",
                }
            ],
            "The file is too large; split it into several batches.",
        )
    lines = raw.splitlines()
    for number, line in enumerate(lines, start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            raise CodeImportRejected([{"line": number, "message": "not UTF-8 text"}]) from None
        if NUL.encode() in line:
            raise CodeImportRejected([{"line": number, "message": NUL_MESSAGE}])
    text = raw.decode("utf-8-sig")
    rows: list[CodeRow] = []
    problems: list[dict[str, Any]] = []
    for number, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        cells = [c.strip() for c in cells]
        if not any(cells):
            continue
        if number == 1 and cells[0].lower() == "code":
            continue
        if len(cells) > 3:
            problems.append(
                {"line": number, "message": "too many columns (code,password,expires_at)"}
            )
            continue
        code = cells[0]
        password = cells[1] if len(cells) > 1 and cells[1] else None
        expiry = cells[2] if len(cells) > 2 and cells[2] else None
        if not code:
            problems.append({"line": number, "message": "missing code"})
            continue
        if len(code) > MAX_CODE_LENGTH or (password and len(password) > MAX_CODE_LENGTH):
            problems.append(
                {"line": number, "message": f"longer than {MAX_CODE_LENGTH} characters"}
            )
            continue
        expires_at = None
        if expiry:
            try:
                expires_at = _parse_expiry(expiry)
            except ValueError:
                problems.append(
                    {"line": number, "message": "expires_at is not an ISO date (YYYY-MM-DD)"}
                )
                continue
        rows.append(CodeRow(number, code, password, expires_at))
    if not rows and not problems:
        problems.append({"line": None, "message": "the file has no codes"})
    if problems:
        raise CodeImportRejected(problems)
    return rows


def import_codes(
    session: Session,
    actor: Actor,
    vault: Vault,
    product: Product,
    rows: list[CodeRow],
    source_name: str | None = None,
    offer_id: str | None = None,
) -> CodeBatch:
    """Seal and store a batch, all or nothing. A code repeated in the batch or already in the
    vault rejects the batch, naming every offending line. The batch names the offer it was
    bought under, whose supplier must hold a valid authorization for these goods today (kept
    with the batch: the provenance of every code sold from it)."""
    if product.fulfillment_type != "card_key" or product.is_bundle:
        raise CodeImportRejected(
            [{"line": None, "message": "the product is not a card-key product"}]
        )
    offer = session.get(Offer, offer_id) if offer_id else None
    if offer is None or offer.product_id != product.id:
        raise CodeImportRejected(
            [
                {
                    "line": None,
                    "message": "name the offer of this product the codes were bought under",
                }
            ]
        )
    authorization = serving_authorizations(session, product, None, platform_today()).get(
        offer.supplier_id
    )
    if authorization is None:
        raise CodeImportRejected(
            [
                {
                    "line": None,
                    "message": "the offer's supplier holds no valid authorization for these goods",
                }
            ]
        )
    fingerprints = [vault.fingerprint(r.code) for r in rows]
    problems: list[dict[str, Any]] = []
    first_line: dict[str, int] = {}
    for row, fp in zip(rows, fingerprints, strict=True):
        if fp in first_line:
            problems.append({"line": row.line, "message": f"duplicate of line {first_line[fp]}"})
        else:
            first_line[fp] = row.line
    existing: set[str] = set()
    unique = list(first_line)
    for start in range(0, len(unique), FINGERPRINT_CHUNK):
        chunk = unique[start : start + FINGERPRINT_CHUNK]
        existing.update(
            session.scalars(select(Code.fingerprint).where(Code.fingerprint.in_(chunk)))
        )
    problems += [
        {"line": row.line, "message": "already in the vault"}
        for row, fp in zip(rows, fingerprints, strict=True)
        if fp in existing
    ]
    if problems:
        raise CodeImportRejected(sorted(problems, key=lambda p: p["line"]))

    batch = CodeBatch(
        product_id=product.id,
        offer_id=offer.id,
        authorization_id=authorization.id,
        source_name=source_name,
        code_count=len(rows),
        imported_by=f"{actor.kind}:{actor.id}",
    )
    session.add(batch)
    session.flush()
    now = utcnow()
    values = []
    for row, fp in zip(rows, fingerprints, strict=True):
        code_id = new_id("cod")
        sealed_code = vault.seal(row.code, f"code:{code_id}:code")
        sealed_password = (
            vault.seal(row.password, f"code:{code_id}:password") if row.password else None
        )
        values.append(
            {
                "id": code_id,
                "batch_id": batch.id,
                "product_id": product.id,
                "status": "available",
                "key_id": sealed_code.key_id,
                "code_blob": sealed_code.blob,
                "password_blob": sealed_password.blob if sealed_password else None,
                "fingerprint": fp,
                "last4": row.code[-4:],
                "expires_at": row.expires_at,
                "created_at": now,
                "allocation_id": None,
                "reserved_at": None,
                "reserved_for_partner_id": None,
            }
        )
    try:
        with session.begin_nested():
            session.execute(insert(Code), values)
    except IntegrityError:
        raise SupplyConflict(
            "Some codes were imported concurrently by another batch; nothing was imported. "
            "Retry to see which lines."
        ) from None
    record_audit(
        session,
        actor,
        "code_batch.imported",
        "code_batch",
        batch.id,
        after={"product_id": product.id, "count": len(rows), "source": source_name},
    )
    check_low_stock(session, product)
    return batch


def store_delivered_link(
    session: Session,
    vault: Vault,
    product_id: str,
    offer_id: str,
    url: str,
    expires_at: datetime | None,
) -> Code:
    """Keep a claim link a supplier delivered as a sold code of the offer's link batch: sealed,
    masked and revealed exactly like a card key, re-sealed by key rotation with them. One
    batch per offer collects its links."""
    batch = session.scalars(
        select(CodeBatch)
        .where(CodeBatch.product_id == product_id, CodeBatch.offer_id == offer_id)
        .with_for_update()
    ).first()
    if batch is None:
        batch = CodeBatch(
            product_id=product_id,
            offer_id=offer_id,
            source_name="links delivered by the supplier",
            code_count=0,
            imported_by="system:fulfillment",
        )
        session.add(batch)
        session.flush()
    batch.code_count += 1
    code = Code(
        id=new_id("cod"),
        batch_id=batch.id,
        product_id=product_id,
        status="sold",
        fingerprint=vault.fingerprint(url),
        last4=url[-4:],
        expires_at=expires_at,
        reserved_at=utcnow(),
    )
    sealed = vault.seal(url, f"code:{code.id}:code")
    code.key_id, code.code_blob = sealed.key_id, sealed.blob
    session.add(code)
    session.flush()
    return code


def void_batch(session: Session, actor: Actor, batch: CodeBatch) -> CodeBatch:
    """Withdraw a batch: its unsold codes can never be allocated (sold ones stay sold)."""
    if batch.status == "void":
        return batch
    voided = session.execute(
        update(Code)
        .where(Code.batch_id == batch.id, Code.status == "available")
        .values(status="void")
        .execution_options(synchronize_session=False)
    )
    batch.status, batch.voided_at = "void", utcnow()
    record_audit(
        session,
        actor,
        "code_batch.voided",
        "code_batch",
        batch.id,
        before={"status": "active"},
        after={"status": "void", "codes_voided": getattr(voided, "rowcount", None)},
    )
    product = session.get_one(Product, batch.product_id)
    check_low_stock(session, product)
    return batch


def batch_counts(session: Session, batch_ids: list[str]) -> dict[str, dict[str, int]]:
    """available / reserved / sold / void / expired per batch (expired: unsold past expiry)."""
    now = utcnow()
    expired = (Code.status == "available") & Code.expires_at.is_not(None) & (Code.expires_at <= now)
    bucket = case((expired, "expired"), else_=Code.status)
    result: dict[str, dict[str, int]] = {
        b: {"available": 0, "reserved": 0, "sold": 0, "void": 0, "expired": 0} for b in batch_ids
    }
    if batch_ids:
        rows = session.execute(
            select(Code.batch_id, bucket, func.count())
            .where(Code.batch_id.in_(batch_ids))
            .group_by(Code.batch_id, bucket)
        )
        for batch_id, state, count in rows:
            result[batch_id][state] = count
    return result


def get_batch(session: Session, batch_id: str) -> CodeBatch:
    return get_or_404(session, CodeBatch, batch_id, "Code batch")


def list_batches(
    session: Session, limit: int, cursor: str | None, product_id: str | None = None
) -> Page[CodeBatch]:
    stmt = select(CodeBatch)
    if product_id:
        stmt = stmt.where(CodeBatch.product_id == product_id)
    return paginate(session, stmt, CodeBatch.id, limit, cursor)


def reseal_batch(session: Session, vault: Vault, limit: int = 500) -> int:
    """Re-encrypt up to `limit` codes (and supplier credentials) not sealed by the current key.
    Rows being sold right now are skipped (SKIP LOCKED) and picked up by the next call, so
    rotation runs beside live traffic. Returns how many rows were resealed."""
    codes = session.scalars(
        select(Code)
        .where(Code.key_id != vault.current_key_id)
        .limit(inline_count(limit))
        .with_for_update(skip_locked=True)
    ).all()
    for code in codes:
        plain = vault.open(code.key_id, code.code_blob, f"code:{code.id}:code")
        sealed = vault.seal(plain, f"code:{code.id}:code")
        if code.password_blob is not None:
            password = vault.open(code.key_id, code.password_blob, f"code:{code.id}:password")
            code.password_blob = vault.seal(password, f"code:{code.id}:password").blob
        code.key_id, code.code_blob = sealed.key_id, sealed.blob
    suppliers = session.scalars(
        select(Supplier)
        .where(
            Supplier.credentials_key_id.is_not(None),
            Supplier.credentials_key_id != vault.current_key_id,
        )
        .limit(inline_count(limit))
        .with_for_update(skip_locked=True)
    ).all()
    for supplier in suppliers:
        assert supplier.credentials_key_id and supplier.credentials_blob
        plain = vault.open(
            supplier.credentials_key_id, supplier.credentials_blob, f"supplier:{supplier.id}"
        )
        sealed = vault.seal(plain, f"supplier:{supplier.id}")
        supplier.credentials_key_id, supplier.credentials_blob = sealed.key_id, sealed.blob
    return len(codes) + len(suppliers)


def key_usage(session: Session) -> dict[str, int]:
    """How many sealed rows each key id still opens (an old key may go once it reaches 0)."""
    usage: dict[str, int] = {}
    for key_id, count in session.execute(select(Code.key_id, func.count()).group_by(Code.key_id)):
        usage[key_id] = usage.get(key_id, 0) + count
    for supplier_key_id, count in session.execute(
        select(Supplier.credentials_key_id, func.count())
        .where(Supplier.credentials_key_id.is_not(None))
        .group_by(Supplier.credentials_key_id)
    ):
        if supplier_key_id is not None:
            usage[supplier_key_id] = usage.get(supplier_key_id, 0) + count
    return usage


def reveal_code(vault: Vault, code: Code) -> tuple[str, str | None]:
    """The only way to plaintext; the entitlement reveal path (audited there) calls it."""
    plain = vault.open(code.key_id, code.code_blob, f"code:{code.id}:code")
    password = (
        vault.open(code.key_id, code.password_blob, f"code:{code.id}:password")
        if code.password_blob is not None
        else None
    )
    return plain, password
