"""Cursor pagination: `?limit=&cursor=` in, `{"data": [...], "next_cursor": ...}` out.

Rows are ordered by id, newest first; ids are time-ordered, so inserts made while a client
pages never shift the pages it has not read yet.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from marshmallow import Schema, fields, validate
from sqlalchemy import Select, tuple_
from sqlalchemy.orm import Session

from app.core.db import inline_count
from app.core.errors import ValidationFailed
from app.core.ids import ID_RE

T = TypeVar("T")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


class PageArgsSchema(Schema):
    limit = fields.Integer(
        load_default=DEFAULT_LIMIT, validate=validate.Range(min=1, max=MAX_LIMIT)
    )
    cursor = fields.String(load_default=None, validate=validate.Length(max=200))


class LiveOrSandboxArgsSchema(PageArgsSchema):
    """A platform list of records that are live or sandbox (test mode): one kind at a time."""

    sandbox = fields.Boolean(
        load_default=False,
        metadata={"description": "true: the sandbox (test-mode) records instead of the live ones"},
    )


@dataclass
class Page(Generic[T]):
    data: list[T]
    next_cursor: str | None


def _pack(raw: bytes) -> str:
    """A cursor: URL-safe base64 without its padding."""
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unpack(cursor: str) -> bytes:
    """What `_pack` packed; binascii.Error (a ValueError) when it is not a cursor."""
    padded = cursor + "=" * (-len(cursor) % 4)
    return base64.b64decode(padded.encode(), altchars=b"-_", validate=True)


def encode_cursor(last_id: str) -> str:
    return _pack(last_id.encode())


def decode_cursor(cursor: str) -> str:
    try:
        last_id = _unpack(cursor).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        last_id = ""
    if not ID_RE.fullmatch(last_id):
        raise ValidationFailed({"cursor": ["Not a valid cursor."]})
    return last_id


@dataclass(frozen=True)
class SortKey:
    """Order pages by `column` (then by id, the same way), instead of newest first. `value`
    reads the column's value from a row of the page (the cursor carries it)."""

    column: Any
    value: Callable[[Any], int | str]
    descending: bool = False


def paginate(
    session: Session,
    stmt: Select[Any],
    id_column: Any,
    limit: int,
    cursor: str | None,
    sort: SortKey | None = None,
) -> Page[Any]:
    """Run `stmt` one page at a time, ordered by `id_column` descending, or by `sort`."""
    if sort is not None:
        return _paginate_sorted(session, stmt, id_column, limit, cursor, sort)
    if cursor:
        stmt = stmt.where(id_column < decode_cursor(cursor))
    rows = list(session.scalars(stmt.order_by(id_column.desc()).limit(inline_count(limit + 1))))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, encode_cursor(rows[-1].id) if more and rows else None)


def _paginate_sorted(
    session: Session,
    stmt: Select[Any],
    id_column: Any,
    limit: int,
    cursor: str | None,
    sort: SortKey,
) -> Page[Any]:
    """Keyset pages over (sort value, id): a row inserted or repriced while a client pages
    moves, but no page repeats or skips a row that stayed put."""
    key = tuple_(sort.column, id_column)
    if cursor:
        after = _decode_sorted_cursor(cursor)
        stmt = stmt.where(key < after if sort.descending else key > after)
    order = (sort.column.desc(), id_column.desc()) if sort.descending else (sort.column, id_column)
    rows = list(session.scalars(stmt.order_by(*order).limit(inline_count(limit + 1))))
    more = len(rows) > limit
    rows = rows[:limit]
    last = rows[-1] if more and rows else None
    return Page(rows, _encode_sorted_cursor(sort.value(last), last.id) if last else None)


def _encode_sorted_cursor(value: int | str, last_id: str) -> str:
    return _pack(json.dumps([value, last_id], ensure_ascii=False).encode())


def _decode_sorted_cursor(cursor: str) -> tuple[int | str, str]:
    try:
        value, last_id = json.loads(_unpack(cursor))
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError):
        value, last_id = None, ""
    if not isinstance(value, int | str) or not ID_RE.fullmatch(str(last_id)):
        raise ValidationFailed({"cursor": ["Not a valid cursor."]})
    return value, str(last_id)


_page_schemas: dict[type[Schema], type[Schema]] = {}


def page_schema(item_schema: type[Schema]) -> type[Schema]:
    """The `{"data": [...], "next_cursor": ...}` envelope for `item_schema`, one class per item."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "PageSchema"
        _page_schemas[item_schema] = type(
            name,
            (Schema,),
            {
                "data": fields.List(fields.Nested(item_schema), required=True),
                "next_cursor": fields.String(allow_none=True, required=True),
            },
        )
    return _page_schemas[item_schema]
