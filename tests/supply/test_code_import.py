"""Card-key import: sealed at rest, unique by fingerprint, all or nothing, clear errors."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import func, select, text

from app.core.db import Base
from app.supply import imports
from app.supply.errors import CodeImportRejected
from app.supply.models import Code, CodeBatch
from tests.factories import (
    PLAINTEXT_CODES,
    TEST_ACTOR,
    code_rows,
    make_product,
    stock_codes,
    vault_for_tests,
)


def _raw_dump(session) -> str:
    out = []
    for table in Base.metadata.sorted_tables:
        for row in session.execute(text(f"SELECT * FROM {table.name}")):
            out.append(" ".join(v.hex() if isinstance(v, bytes) else str(v) for v in row))
    return "\n".join(out)


def _counts(session) -> tuple[int, int]:
    return (
        session.scalar(select(func.count()).select_from(Code)),
        session.scalar(select(func.count()).select_from(CodeBatch)),
    )


def test_ten_thousand_codes_are_sealed_and_no_row_holds_plaintext(session):
    product = make_product(session)
    rows = code_rows(10_000, password="PW-SECRET-1234")
    batch = imports.import_codes(
        session, TEST_ACTOR, vault_for_tests(), product, rows, offer_id=product.offers[0].id
    )
    session.commit()
    assert imports.batch_counts(session, [batch.id])[batch.id]["available"] == 10_000
    dump = _raw_dump(session)
    assert batch.id in dump
    sample = [r.code for r in rows[::97]] + ["PW-SECRET-1234"]
    assert not [s for s in sample if s in dump or s.encode().hex() in dump]
    codes = session.scalars(select(Code).where(Code.batch_id == batch.id).limit(3)).all()
    assert {c.masked for c in codes} == {"****-****-" + r.code[-4:] for r in rows[:3]}
    opened = imports.reveal_code(vault_for_tests(), codes[0])
    assert opened[0] in {r.code for r in rows} and opened[1] == "PW-SECRET-1234"


def test_duplicates_in_batch_and_in_vault_are_named_and_nothing_is_written(session):
    product = make_product(session)
    existing = stock_codes(session, product, 3)
    first_code = session.scalars(select(Code).where(Code.batch_id == existing.id)).first()
    known = imports.reveal_code(vault_for_tests(), first_code)[0]
    rows = code_rows(5)
    rows[3] = imports.CodeRow(4, rows[0].code.lower(), None, None)  # same code, other case
    rows[4] = imports.CodeRow(5, known, None, None)
    before = _counts(session)
    with pytest.raises(CodeImportRejected) as rejected:
        imports.import_codes(
            session, TEST_ACTOR, vault_for_tests(), product, rows, offer_id=product.offers[0].id
        )
    session.rollback()
    assert rejected.value.lines == [
        {"line": 4, "message": "duplicate of line 1"},
        {"line": 5, "message": "already in the vault"},
    ]
    assert known not in str(rejected.value.lines) and known not in rejected.value.detail
    assert _counts(session) == before


def _upload(platform, product, content: bytes, name: str = "codes.csv"):
    return platform.post(
        f"/api/v1/platform/products/{product.id}/code-batches",
        query_string={"offer": product.offers[0].id},
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def test_upload_by_api_creates_a_batch_with_counts(platform, session):
    product = make_product(session)
    PLAINTEXT_CODES.update({"API-CODE-0001", "API-CODE-0002"})
    response = _upload(
        platform,
        product,
        b"code,password,expires_at\nAPI-CODE-0001,pw1,2099-01-31\nAPI-CODE-0002,,\n",
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["code_count"] == 2
    assert body["counts"]["available"] == 2
    assert "API-CODE-0001" not in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("content", "line", "fragment"),
    [
        (b"GOOD-0001\nBAD-\xff\xfe-0002\n", 2, "UTF-8"),
        (b"GOOD-0001\n,password-only\n", 2, "missing code"),
        (b"GOOD-0001\nGOOD-0002,pw,31/12/2099\n", 2, "ISO date"),
        (b"GOOD-0001\nA,B,2099-01-01,extra\n", 2, "too many columns"),
        (b"GOOD-0001\nGOOD-000\x00\n", 2, "NUL character"),
    ],
)
def test_bad_csv_is_a_problem_naming_the_line_and_writes_nothing(
    platform, session, content, line, fragment
):
    product = make_product(session)
    before = _counts(session)
    response = _upload(platform, product, content)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["code"] == "code_import_rejected"
    assert any(p["line"] == line and fragment in p["message"] for p in body["lines"]), body
    assert _counts(session) == before


def test_file_over_the_size_limit_is_refused(platform, session, monkeypatch):
    product = make_product(session)
    monkeypatch.setattr(imports, "MAX_IMPORT_BYTES", 64)
    response = _upload(platform, product, b"X" * 65)
    assert response.status_code == 422
    assert "too large" in response.get_json()["detail"]


def test_upload_must_be_multipart(platform, session):
    product = make_product(session)
    response = platform.post(
        f"/api/v1/platform/products/{product.id}/code-batches", json={"file": "x"}
    )
    assert response.status_code == 415


def test_codes_only_for_card_key_products(session):
    product = make_product(session, fulfillment_type="direct_recharge")
    with pytest.raises(CodeImportRejected):
        imports.import_codes(session, TEST_ACTOR, vault_for_tests(), product, code_rows(1))


def test_cli_import_reports_bad_lines(app, session, tmp_path):
    product = make_product(session)
    path = tmp_path / "codes.csv"
    PLAINTEXT_CODES.add("CLI-CODE-0001")
    path.write_bytes(b"CLI-CODE-0001\nCLI-CODE-0001\n")
    args = ["supply", "import-codes", str(path), "--product", product.id]
    result = app.test_cli_runner().invoke(args=[*args, "--offer", product.offers[0].id])
    assert result.exit_code != 0
    assert "line 2: duplicate of line 1" in result.output
    path.write_bytes(b"CLI-CODE-0001\n")
    result = app.test_cli_runner().invoke(args=[*args, "--offer", product.offers[0].id])
    assert result.exit_code == 0, result.output
    assert "imported 1 codes" in result.output


def test_void_batch_counts(platform, session):
    product = make_product(session)
    batch = stock_codes(session, product, 4)
    response = platform.post(f"/api/v1/platform/code-batches/{batch.id}/void")
    assert response.status_code == 200
    assert response.get_json()["counts"] == {
        "available": 0,
        "reserved": 0,
        "sold": 0,
        "void": 4,
        "expired": 0,
    }
