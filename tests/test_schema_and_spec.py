"""The schema comes only from migrations, and the published OpenAPI file is the app's own."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from app.apidocs.cli import FILES, rendered
from app.core.db import Base


def test_models_and_migrations_agree(session):
    # the schema was built by `alembic upgrade head` (conftest)
    diff = compare_metadata(MigrationContext.configure(session.connection()), Base.metadata)
    assert diff == [], f"run 'flask db revision -m ...': models differ from migrations: {diff}"


def test_committed_openapi_documents_match_the_app(app, repo_root):
    for kind, document in rendered().items():
        committed = (repo_root / "openapi" / FILES[kind]).read_text(encoding="utf-8")
        assert committed == document, f"run 'make openapi' and commit openapi/{FILES[kind]}"


def test_claimed_and_dispatched_tables_are_vacuumed_after_a_few_thousand_dead_rows(session):
    """Orders claim codes from the head of one index range and dispatches read the head of
    another: the entries they leave behind must not wait for a fifth of the table to die."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's autovacuum settings")
    options = dict(
        session.execute(
            text("SELECT relname, reloptions FROM pg_class WHERE relname IN ('codes', 'events')")
        ).all()
    )
    for table in ("codes", "events"):
        assert set(options[table]) >= {
            "autovacuum_vacuum_scale_factor=0",
            "autovacuum_vacuum_threshold=5000",
        }, table


def test_the_phone_migration_seals_the_phones_already_stored(app, tmp_path):
    """Members stored before the vault held phones keep them, sealed, after the upgrade."""
    from alembic import command
    from sqlalchemy import create_engine

    from app.core.cli import alembic_config
    from app.core.vault import current_vault

    url = f"sqlite:///{tmp_path / 'phones.db'}"
    command.upgrade(alembic_config(url), "8b2d4f6a1c30")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO partners (id, slug, name, kind, status, branding, points_unit_name,"
                " points_rate_points, points_rate_value_minor, points_rate_currency, timezone,"
                " created_at, updated_at) VALUES ('prt_1', 'p', 'P', 'bank', 'active', '{}',"
                " 'pts', 100, 100, 'CNY', 'Asia/Shanghai', '2026-01-01', '2026-01-01')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO members (id, partner_id, external_id, status, phone, metadata,"
                " points_balance, created_at, updated_at) VALUES ('mem_1', 'prt_1', 'm', 'active',"
                " '13912345678', '{}', 0, '2026-01-01', '2026-01-01')"
            )
        )
    command.upgrade(alembic_config(url), "head")
    with engine.connect() as conn:
        key_id, blob, masked = conn.execute(
            text("SELECT phone_key_id, phone_blob, phone_masked FROM members")
        ).one()
    engine.dispose()
    assert masked == "139****5678" and b"13912345678" not in blob
    assert current_vault().open(key_id, blob, "member:mem_1:phone") == "13912345678"
