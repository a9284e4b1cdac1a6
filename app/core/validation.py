"""Whole-string pattern checks. Python's `$` also matches before a trailing newline, so
`re.match(r"^a$", "a\n")` passes: a member id `m-1\n` made a twin of `m-1`, a slug with `\n`
broke invoice downloads. Every pattern is checked with `fullmatch`; the `^…$` spelling stays,
since the OpenAPI document publishes it as an ECMA-262 `pattern`."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from marshmallow import ValidationError, validate


class FullMatch(validate.Regexp):
    """marshmallow's Regexp, but the whole value must match (no trailing newline)."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


_TIMEZONES = frozenset(available_timezones())


def validate_timezone(value: str) -> None:
    if value not in _TIMEZONES:
        raise ValidationError("Not a known IANA timezone (e.g. Asia/Shanghai).")
