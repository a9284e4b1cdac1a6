"""Domain errors of the supply module (mapped to problem+json by app.core.errors)."""

from __future__ import annotations

from typing import Any

from app.core.errors import Conflict, DomainError


class OutOfStock(Conflict):
    code = "out_of_stock"


class SupplyConflict(Conflict):
    code = "supply_conflict"


class CodeImportRejected(DomainError):
    """The whole batch is refused; `lines` names every offending line (never the code itself)."""

    code = "code_import_rejected"

    def __init__(self, lines: list[dict[str, Any]], detail: str | None = None) -> None:
        super().__init__(
            detail or f"{len(lines)} line(s) are invalid; nothing was imported.", lines=lines
        )
        self.lines = lines


class ImportTooLarge(DomainError):
    code = "payload_too_large"
