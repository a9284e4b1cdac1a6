"""Whole-string pattern checks. Python's `$` also matches before a trailing newline, so
`re.match(r"^a$", "a\n")` passes: a member id `m-1\n` made a twin of `m-1`, a slug with `\n`
broke invoice downloads. Every pattern is checked with `fullmatch`; the `^…$` spelling stays,
since the OpenAPI document publishes it as an ECMA-262 `pattern`."""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from marshmallow import ValidationError, fields, validate


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


METADATA_KEYS, METADATA_KEY_LENGTH, METADATA_VALUE_LENGTH = 20, 40, 500


class Metadata(fields.Dict):
    """Small key/value notes a partner keeps on a record: up to 20 keys of at most 40
    characters, each a string of at most 500 (no nesting: notes, not a second database)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            keys=fields.String(validate=validate.Length(min=1, max=METADATA_KEY_LENGTH)),
            values=fields.String(validate=validate.Length(max=METADATA_VALUE_LENGTH)),
            validate=validate.Length(max=METADATA_KEYS),
            metadata={
                "description": f"up to {METADATA_KEYS} keys of at most {METADATA_KEY_LENGTH}"
                f" characters, string values of at most {METADATA_VALUE_LENGTH}",
                "maxProperties": METADATA_KEYS,
            },
            **kwargs,
        )


# the languages member-facing texts are kept in (the mall's and the portal's locales)
LOCALES = ("zh-CN", "en")


class LocalizedText(fields.Dict):
    """A text per locale: `{"zh-CN": "…", "en": "…"}` (any subset)."""

    def __init__(self, max_length: int = 4000, **kwargs: Any) -> None:
        kwargs.setdefault("metadata", {"description": "per locale: " + ", ".join(LOCALES)})
        super().__init__(
            keys=fields.String(validate=validate.OneOf(LOCALES)),
            values=fields.String(validate=validate.Length(min=1, max=max_length)),
            **kwargs,
        )
