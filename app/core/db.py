"""Database engine, session and declarative base.

One scoped session per thread; the transaction is opened at the edge (a request or a job) and
committed there, never inside helpers. On SQLite every transaction starts with BEGIN IMMEDIATE:
writers are serialized, which is what makes embedded mode correct (not fast) under concurrency.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    DateTime,
    MetaData,
    String,
    Table,
    TypeDecorator,
    bindparam,
    create_engine,
    event,
    insert,
    inspect,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Mapper,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.sql.dml import Insert, UpdateBase

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

    @property
    def is_postgres(self) -> bool:
        bind = self.session.get_bind()
        return bind.dialect.name == "postgresql"

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


@functools.cache
def _insert_plan(cls: type) -> tuple[Insert, tuple[tuple[str, str, Any], ...]]:
    """The INSERT of a mapped class's table and, per column, (attribute, column, default)."""
    mapper: Mapper[Any] = inspect(cls)
    columns = tuple(
        (prop.key, prop.columns[0].key, prop.columns[0].default) for prop in mapper.column_attrs
    )
    return insert(cast(Table, mapper.local_table)), columns  # declarative: always a Table


# psycopg parses a statement's placeholders once and caches the result only for statements of
# at most 50 parameters (and 4 KB); a longer one is parsed again on every execution, which
# costs more than the round trip a merge saves (bench/RESULTS.md).
STATEMENT_PARAMETERS = 50


# A statement (an UPDATE or INSERT without RETURNING) and its parameters, to be sent with rows.
Companion = tuple[UpdateBase, dict[str, Any]]


def insert_rows(
    session: Session, objects: Sequence[Base], companions: Sequence[Companion] = ()
) -> None:
    """Insert new rows that are complete when created and never change afterwards (ledger and
    audit entries, events, an order's own rows), in the caller's transaction, without the unit
    of work, parents first (the tables in the order first met). On PostgreSQL rows of several
    tables share statements (each row an INSERT, all but the last in the WITH clause) of up to
    STATEMENT_PARAMETERS parameters; elsewhere each table's rows are one INSERT.

    Why: on the order path the unit of work's bookkeeping for such rows (state tracking,
    dependency sorting, fetching defaults back) cost a fifth of the request's Python — more
    than the INSERTs themselves — and each statement is a round trip with its own Python and
    PostgreSQL costs (bench/RESULTS.md). Rows may share a statement with the rows they refer
    to: PostgreSQL checks foreign keys at the end of the statement. The rows are written at
    once, so the rows they refer to must already be in the database or come earlier in the
    same call (not merely added to the session). Column defaults are applied to the objects
    first, so they read as written. The objects stay transient: callers neither add them to
    the session nor change them afterwards (nothing more would be written).

    `companions` are statements that belong with the rows (a points spend's UPDATEs with its
    ledger entry): on PostgreSQL in the WITH clause of the first statement, elsewhere run
    first. Their parameter names must differ from each other's (none starts with `r<n>_`)."""
    groups: dict[Insert, list[dict[str, Any]]] = {}
    for obj in objects:
        statement, columns = _insert_plan(type(obj))
        values = obj.__dict__
        row = {}
        for attribute, column, default in columns:
            if attribute not in values:
                value = None
                if default is not None:
                    value = default.arg(None) if default.is_callable else default.arg
                setattr(obj, attribute, value)
            row[column] = values[attribute]
        groups.setdefault(statement, []).append(row)
    connection = session.connection()
    if connection.dialect.name != "postgresql" or (len(groups) == 1 and not companions):
        for companion, values in companions:
            connection.execute(companion, values)
        for statement, rows in groups.items():
            connection.execute(statement, rows[0] if len(rows) == 1 else rows)
        return
    chunk: list[tuple[Insert, dict[str, Any]]] = []
    parameters = sum(len(p) for _, p in companions)
    for statement, row in [(s, row) for s, rows in groups.items() for row in rows]:
        if chunk and parameters + len(row) > STATEMENT_PARAMETERS:
            _insert_together(connection, chunk, companions)
            chunk, parameters, companions = [], 0, ()
        chunk.append((statement, row))
        parameters += len(row)
    _insert_together(connection, chunk, companions)


def _insert_together(
    connection: Connection,
    rows: list[tuple[Insert, dict[str, Any]]],
    companions: Sequence[Companion],
) -> None:
    if len(rows) == 1 and not companions:
        connection.execute(*rows[0])
        return
    statement, names = _together(
        tuple((statement, tuple(row)) for statement, row in rows),
        tuple(companion for companion, _ in companions),
    )
    values = [value for _, row in rows for value in row.values()]
    parameters = dict(zip(names, values, strict=True))
    for _, companion_parameters in companions:
        parameters |= companion_parameters
    connection.execute(statement, parameters)


@functools.lru_cache(maxsize=256)
def _together(
    shape: tuple[tuple[Insert, tuple[str, ...]], ...], companions: tuple[UpdateBase, ...] = ()
) -> tuple[Insert, list[str]]:
    """The statement inserting rows of several tables ((table INSERT, columns) a row), with the
    companion statements, and its parameter names in the order of the rows' values: each row a
    single-row INSERT (multi-row VALUES never enter SQLAlchemy's compiled cache), the last the
    statement's own, the companions and the other rows in its WITH clause. Built once per shape,
    so a call neither builds nor compiles anything (building it per call cost three times the
    separate INSERTs)."""
    names = [f"r{n}_{column}" for n, (_, columns) in enumerate(shape) for column in columns]
    rows = [
        statement.values(
            {
                column: bindparam(f"r{n}_{column}", type_=statement.table.c[column].type)
                for column in columns
            }
        )
        for n, (statement, columns) in enumerate(shape)
    ]
    *earlier, last = rows
    return last.add_cte(
        *(companion.cte(f"companion_{n}") for n, companion in enumerate(companions)),
        *(row.cte(f"rows_{n}") for n, row in enumerate(earlier)),
    ), names
