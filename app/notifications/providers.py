"""Where notifications go out: an SMS provider behind a small protocol, chosen by
`NOTIFY_SMS_PROVIDER`. `dev` (the default outside production) writes each message as a file
under instance/outbox/sms/, so the demo and the tests read what a member would receive; a
real provider (an SMS gateway's HTTP API) implements the same `send`."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from flask import Flask


class SendFailed(Exception):
    """The provider did not take the message; it is tried again on the next pass."""


class Provider(Protocol):
    def send(self, notification_id: str, to: str, body: str) -> None: ...


class DevOutbox:
    """Writes `<id>.txt` (recipient on the first line) under `root`; idempotent per id."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def send(self, notification_id: str, to: str, body: str) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / f"{notification_id}.txt").write_text(f"To: {to}\n\n{body}\n", "utf-8")


def sms_provider(app: Flask) -> Provider:
    name = app.config.get("NOTIFY_SMS_PROVIDER", "dev")
    if name == "dev":
        return DevOutbox(Path(app.config["NOTIFY_OUTBOX_DIR"]) / "sms")
    raise RuntimeError(f"unknown NOTIFY_SMS_PROVIDER {name!r}")
