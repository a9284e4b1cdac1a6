"""Database engine, session and declarative base.

One scoped session per thread; the transaction is opened at the edge (a request or a job) and
committed there, never inside helpers. On SQLite every transaction starts with BEGIN IMMEDIATE:
writers are serialized, which is what makes embedded mode correct (not fast) under concurrency.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import (
    DateTime,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.sql.elements import BindParameter

from app.core.errors import NotFound
from app.core.ids import new_id

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The start of a local day in `timezone` and of the next one."""
    zone = ZoneInfo(timezone)
    start = datetime.combine(day, time(), zone)
    return start, datetime.combine(day + timedelta(days=1), time(), zone)


def inline_count(value: int | None = None, name: str | None = None) -> BindParameter[int]:
    """A LIMIT written into the SQL text when the statement runs, not sent as a parameter
    (`name`: its value comes with the statement's parameters). PostgreSQL plans a prepared
    statement's cached generic plan for an unknown LIMIT as a tenth of the rows; against that
    the one-row custom plan always wins, so the statement was planned afresh on every run
    (400 µs of the database's CPU an order, more than running it). One prepared statement per
    count keeps a good plan each; the counts are few (order quantities, page sizes)."""
    return bindparam(name, value, type_=Integer, literal_execute=True)


_Row = TypeVar("_Row")


def get_or_404(session: Session, model: type[_Row], id_: str, label: str) -> _Row:
    """The row of `model` with primary key `id_`, or NotFound ("<label> not found.")."""
    row = session.get(model, id_)
    if row is None:
        raise NotFound(f"{label} not found.")
    return row


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite stores naive text: tag it UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


class PublicIdMixin:
    """Primary key is the public, prefixed id. Subclasses set `id_prefix`."""

    id_prefix: str = ""
    id: Mapped[str] = mapped_column(String(40), primary_key=True)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("id", new_id(self.id_prefix))
        super().__init__(**kwargs)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    # Every write transaction is serialized by BEGIN IMMEDIATE, so a transaction-scoped lock is
    # always granted: idempotency's lock statement runs unchanged on both databases.
    dbapi_lock = "pg_try_advisory_xact_lock"

    @event.listens_for(engine, "connect")
    def _advisory_lock(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.create_function(dbapi_lock, 1, lambda _key: True)

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, **kwargs)
        _configure_sqlite(engine)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


class Database:
    """Holds the engine and the thread-scoped session for one app."""

    def __init__(self) -> None:
        self.engine: Engine | None = None
        self.session: scoped_session[Session] = scoped_session(sessionmaker(expire_on_commit=False))

    def init_app(self, app: Any) -> None:
        self.engine = make_engine(app.config["DATABASE_URL"])
        self.session.configure(bind=self.engine)
        app.teardown_appcontext(self._teardown)
        app.extensions["quanyi_db"] = self

    def _teardown(self, _exc: BaseException | None) -> None:
        self.session.remove()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work for jobs and commands: commit on success, roll back on error."""
        session = self.session()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def dialect_insert(session: Session, model: Any) -> Any:
    """INSERT that understands ON CONFLICT on both backends (PostgreSQL and SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)
