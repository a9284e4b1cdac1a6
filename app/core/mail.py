"""Outgoing mail behind the outbox: a message is a row written in the business transaction
(its body sealed in the vault: invitation and reset links are secrets) and sent by a job
enqueued after commit, so a rollback sends nothing and a crash loses nothing. The mailer is
SMTP when `QUANYI_SMTP_URL` is set (smtp://user:password@host:587, STARTTLS), else a
development mailer that writes each message as an .eml file under `QUANYI_MAIL_DIR`
(default instance/mail/)."""

from __future__ import annotations

import smtplib
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlsplit

from flask import current_app
from sqlalchemy import LargeBinary, String
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.core.db import Base, PublicIdMixin, utcnow
from app.core.errors import ValidationFailed
from app.core.queue import enqueue_after_commit, job_app_context
from app.core.vault import Vault, current_vault

_CONTEXT = "mail:"


class OutgoingMail(PublicIdMixin, Base):
    __tablename__ = "outgoing_mail"
    id_prefix = "mail"

    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body_key_id: Mapped[str] = mapped_column(String(40))
    body_blob: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None: ...


class FileMailer:
    """Development: each message an .eml file, named by its id (sending twice rewrites it)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def send(self, message: EmailMessage) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / f"{message['Message-ID'].strip('<>')}.eml").write_bytes(
            message.as_bytes()
        )


class SmtpMailer:
    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "localhost", parts.port or 587
        self.user = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None

    def send(self, message: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            smtp.starttls()
            if self.user and self.password:
                smtp.login(self.user, self.password)
            smtp.send_message(message)


def configured_mailer() -> Mailer:
    url = current_app.config.get("SMTP_URL")
    if url:
        return SmtpMailer(url)
    return FileMailer(Path(current_app.config["MAIL_DIR"]))


MAX_RECIPIENTS = 10


def clean_recipients(addresses: list[str], required: bool = False) -> list[str]:
    """Addresses as typed (any case, repeated, blank lines) as a sorted list of distinct
    lower-case ones, at most ten; ValidationFailed names what is not an address."""
    cleaned = sorted({a.strip().lower() for a in addresses if a.strip()})
    if len(cleaned) > MAX_RECIPIENTS or (required and not cleaned):
        lowest = 1 if required else 0
        raise ValidationFailed({"recipients": [f"From {lowest} to {MAX_RECIPIENTS} addresses."]})
    bad = [a for a in cleaned if "@" not in a.strip("@") or len(a) > 254 or " " in a]
    if bad:
        raise ValidationFailed({"recipients": [f"Not an email address: {', '.join(bad)}"]})
    return cleaned


def queue_mail(session: Session, vault: Vault, to: str, subject: str, body: str) -> OutgoingMail:
    """Stage a plain-text message; it is sent after this transaction commits."""
    mail = OutgoingMail(to_address=to, subject=subject, body_key_id="", body_blob=b"")
    sealed = vault.seal(body, _CONTEXT + mail.id)
    mail.body_key_id, mail.body_blob = sealed.key_id, sealed.blob
    session.add(mail)
    enqueue_after_commit(session, "app.core.mail.send_mail", mail.id)
    return mail


def send_mail(mail_id: str) -> None:
    """The job: send once (a message already sent is left alone; a failure is retried)."""
    from app.extensions import db

    with job_app_context(), db.transaction() as session:
        mail = session.get(OutgoingMail, mail_id, with_for_update=True)
        if mail is None or mail.sent_at is not None:
            return
        vault = current_vault()
        message = EmailMessage()
        message["From"] = current_app.config["MAIL_FROM"]
        message["To"] = mail.to_address
        message["Subject"] = mail.subject
        message["Message-ID"] = f"<{mail.id}@quanyi>"
        message.set_content(vault.open(mail.body_key_id, mail.body_blob, _CONTEXT + mail.id))
        configured_mailer().send(message)
        mail.sent_at = utcnow()
