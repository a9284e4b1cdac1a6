"""Database engine, session and declarative base.

One scoped session per thread; the transaction is opened at the edge (a request or a job) and
committed there, never inside helpers. On SQLite every transaction starts with BEGIN IMMEDIATE:
writers are serialized, which is what makes embedded mode correct (not fast) under concurrency.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, TypeVarTuple, cast

from sqlalchemy import (
    DateTime,
    Integer,
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
from sqlalchemy.engine import Dialect, Engine, Row
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Mapper,
    Session,
    mapped_column,
    scoped_session,
    sessionmaker,
)
from sqlalchemy.sql import Select
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import BindParameter

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


def inline_count(value: int | None = None, name: str | None = None) -> BindParameter[int]:
    """A LIMIT written into the SQL text when the statement runs, not sent as a parameter
    (`name`: its value comes with the statement's parameters). PostgreSQL plans a prepared
    statement's cached generic plan for an unknown LIMIT as a tenth of the rows; against that
    the one-row custom plan always wins, so the statement was planned afresh on every run
    (400 µs of the database's CPU an order, more than running it). One prepared statement per
    count keeps a good plan each; the counts are few (order quantities, page sizes)."""
    return bindparam(name, value, type_=Integer, literal_execute=True)


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


_Columns = TypeVarTuple("_Columns")


def read_rows(
    session: Session, statement: Select[*_Columns], params: dict[str, Any]
) -> Sequence[Row[*_Columns]]:
    """The rows of a SELECT of columns (not of entities), read on the session's connection: for a
    hot path that needs values, not objects. The ORM's per-statement loading setup costs several
    times what the read does (bench/RESULTS.md). Pending ORM changes are flushed first, as an ORM
    query's autoflush would, so the read sees them."""
    session.flush()
    return session.connection().execute(statement, params).all()


def dialect_insert(session: Session, model: Any) -> Any:
    """INSERT that understands ON CONFLICT on both backends (PostgreSQL and SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(model)
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(model)


# psycopg parses a statement's placeholders once and caches the result only for statements of
# at most 50 parameters and 4 KB; a longer one is parsed again on every execution, which costs
# more than the round trip a merge saves (bench/RESULTS.md). A row is one parameter on
# PostgreSQL and about 110 characters of SQL: a statement takes at most STATEMENT_ROWS rows.
STATEMENT_PARAMETERS = 50
STATEMENT_ROWS = 30

# A statement (an UPDATE or INSERT without RETURNING) and its parameters, to be sent with rows.
Companion = tuple[UpdateBase, dict[str, Any]]


def insert_rows(
    session: Session, objects: Sequence[Base], companions: Sequence[Companion] = ()
) -> None:
    """Insert new rows that are complete when created and never change afterwards (ledger and
    audit entries, events, an order's own rows), in the caller's transaction, without the unit
    of work, parents first (in the order given). On PostgreSQL every row is one JSON parameter
    (`json_populate_record` of its table's row type) and rows of any tables share one
    statement (each an INSERT, all but the last in the WITH clause), up to STATEMENT_ROWS rows
    and STATEMENT_PARAMETERS parameters; elsewhere each table's rows are one INSERT.

    Why: on the order path the unit of work's bookkeeping for such rows (state tracking,
    dependency sorting, fetching defaults back) cost a fifth of the request's Python — more
    than the INSERTs themselves — and each statement is a round trip with its own Python and
    PostgreSQL costs (bench/RESULTS.md); a column a parameter kept an order's rows to two
    statements under psycopg's parse cache. Rows may share a statement with the rows they
    refer to: PostgreSQL checks foreign keys at the end of the statement. The rows are written
    at once, so the rows they refer to must already be in the database or come earlier in the
    same call (not merely added to the session). Column defaults are applied to the objects
    first, so they read as written. The objects stay transient: callers neither add them to
    the session nor change them afterwards (nothing more would be written). A JSON column's
    None is stored as SQL NULL on PostgreSQL (the unit of work stores JSON null; both read None).

    `companions` are statements that belong with the rows (a points spend's UPDATEs with its
    ledger entry): on PostgreSQL in the WITH clause of the first statement, elsewhere run
    first. Their parameter names must differ from each other's and from `r<n>`."""
    rows: list[tuple[Table, dict[str, Any]]] = []
    for obj in objects:
        table, columns = _insert_plan(type(obj))
        values = obj.__dict__
        row = {}
        for attribute, column, default in columns:
            if attribute not in values:
                value = None
                if default is not None:
                    value = default.arg(None) if default.is_callable else default.arg
                setattr(obj, attribute, value)
            row[column] = values[attribute]
        rows.append((table, row))
    connection = session.connection()
    if connection.dialect.name != "postgresql" or not rows:
        for companion, values in companions:
            connection.execute(companion, values)
        groups: dict[Table, list[dict[str, Any]]] = {}
        for table, row in rows:
            groups.setdefault(table, []).append(row)
        for table, group in groups.items():
            connection.execute(insert(table), group[0] if len(group) == 1 else group)
        return
    dialect = connection.dialect
    while rows:  # the companions go with the first statement
        room = STATEMENT_PARAMETERS - sum(len(values) for _, values in companions)
        size = min(room, STATEMENT_ROWS)
        chunk, rows = rows[:size], rows[size:]
        sql, literals = _rows_statement(
            dialect,
            tuple(table for table, _ in chunk),
            tuple(companion for companion, _ in companions),
        )
        parameters = {f"r{n}": _row_json(dialect, t, row) for n, (t, row) in enumerate(chunk)}
        for _, values in companions:
            parameters |= values
        connection.exec_driver_sql(sql, {**literals, **parameters})
        companions = ()


@functools.cache
def _insert_plan(cls: type) -> tuple[Table, tuple[tuple[str, str, Any], ...]]:
    """A mapped class's table and, per column, (attribute, column, default)."""
    mapper: Mapper[Any] = inspect(cls)
    columns = tuple(
        (prop.key, prop.columns[0].key, prop.columns[0].default) for prop in mapper.column_attrs
    )
    return cast(Table, mapper.local_table), columns  # declarative: always a Table


@functools.lru_cache(maxsize=256)
def _rows_statement(
    dialect: Dialect, tables: tuple[Table, ...], companions: tuple[UpdateBase, ...]
) -> tuple[str, dict[str, Any]]:
    """The SQL inserting one JSON row (`%(r<n>)s`) into each of `tables`, with the companion
    statements, and the companions' literal values: the last row's INSERT the statement's own,
    the companions and the other rows in its WITH clause. Built once per shape (a call neither
    builds nor compiles anything) and sent as it is: the rows' values are JSON, the companions'
    parameters plain values (a companion sets every column it changes: no Python-side
    defaults run here)."""
    compiled = [c.compile(dialect=dialect) for c in companions]
    if any(c.insert_prefetch or c.update_prefetch for c in compiled):
        raise ValueError("a companion statement must set the columns its defaults would")

    def row(n: int, table: Table) -> str:
        return (
            f"INSERT INTO {table.name} SELECT * FROM "
            f"json_populate_record(NULL::{table.name}, %(r{n})s::json)"
        )

    ctes = ", ".join(
        [f"companion_{n} AS ({c})" for n, c in enumerate(compiled)]
        + [f"rows_{n} AS ({row(n, table)})" for n, table in enumerate(tables[:-1])]
    )
    last = row(len(tables) - 1, tables[-1])
    literals = {
        name: value for c in compiled for name, value in c.params.items() if value is not None
    }
    return (f"WITH {ctes} {last}" if ctes else last), literals


def _row_json(dialect: Dialect, table: Table, row: dict[str, Any]) -> str:
    """A row as the JSON object json_populate_record reads (its column types bound first)."""
    return _ROW_ENCODER.encode(
        {
            column: _bind_value(dialect, table.c[column].type, value) if value is not None else None
            for column, value in row.items()
        }
    )


def _bind_value(dialect: Dialect, column_type: Any, value: Any) -> Any:
    if isinstance(column_type, TypeDecorator):
        return column_type.process_bind_param(value, dialect)
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"insert_rows cannot write {type(value).__name__} as JSON")


_ROW_ENCODER = json.JSONEncoder(default=_json_default, ensure_ascii=False, separators=(",", ":"))
