"""An app on a PostgreSQL schema of a bench's own, built by the Alembic migrations (so a bench
never touches the test database's tables) and dropped afterwards."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import create_engine, text

from app import create_app
from app.core.cli import alembic_config


def _recreate(url: str, schema: str, create: bool) -> None:
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        if create:
            conn.execute(text(f"CREATE SCHEMA {schema}"))
    admin.dispose()


def app_on_schema(url: str, schema: str) -> Any:
    """A fresh `schema`, migrated, and an embedded-mode app whose connections use it."""
    _recreate(url, schema, create=True)
    scoped = url + ("&" if "?" in url else "?") + f"options=-csearch_path%3D{schema}"
    app = create_app({"DATABASE_URL": scoped, "REDIS_URL": None, "LOG_LEVEL": "WARNING"})
    with app.app_context():
        command.upgrade(alembic_config(scoped), "head")
    return app


def drop_schema(url: str, schema: str) -> None:
    _recreate(url, schema, create=False)
