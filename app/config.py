"""Settings from the environment, with embedded defaults for a newcomer without services.

Embedded mode (no DATABASE_URL, no REDIS_URL): SQLite under instance/, jobs in-process, and
development keys generated once and kept under instance/. Production (QUANYI_ENV=production)
refuses to start without real keys, because a generated key would silently differ per host.
"""

from __future__ import annotations

import base64
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"


class ConfigError(RuntimeError):
    """The environment cannot run the service as configured."""


def _dev_secret(name: str, n_bytes: int) -> str:
    """Return a development key kept under instance/, creating it on first use."""
    INSTANCE.mkdir(parents=True, exist_ok=True)
    path = INSTANCE / name
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(n_bytes)).decode())
        path.chmod(0o600)
    return path.read_text().strip()


def normalize_database_url(url: str) -> str:
    """Accept the usual postgres:// spellings and pin the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


@dataclass(frozen=True)
class Issuer:
    """Who issues the invoices (the platform's company), as its PDF states it."""

    name: str
    tax_id: str
    address: str
    bank: str


# a demo issuer: production sets QUANYI_ISSUER_* to the operating company's registered details
DEMO_ISSUER = Issuer(
    name="权益科技（演示）有限公司 Quanyi Demo Ltd.",
    tax_id="91310000MA1DEMO00X",
    address="上海市浦东新区演示路 1 号 (1 Demo Road, Pudong, Shanghai)",
    bank="招商银行上海分行 China Merchants Bank Shanghai · 6214 8300 0000 0000",
)
# the invoice PDF's font, embedded (subset) in every PDF: Debian's fonts-wqy-microhei
DEFAULT_PDF_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    redis_url: str | None
    secret_key: str
    vault_keys: str
    vault_fingerprint_key: str
    rate_limit: str
    log_level: str
    public_base_url: str
    queue_prefix: str
    webhook_allow_private: bool
    staff_idle_minutes: int = 30
    staff_session_hours: int = 12
    smtp_url: str | None = None
    mail_dir: str = str(INSTANCE / "mail")
    outbox_dir: str = str(INSTANCE / "outbox")
    sms_provider: str = "dev"
    mail_from: str = "Quanyi <no-reply@quanyi.example>"
    issuer: Issuer = DEMO_ISSUER
    pdf_font: str = DEFAULT_PDF_FONT
    # the platform's own host names: with any set, other hosts are partners' malls or 404
    hosts: tuple[str, ...] = ()

    @property
    def is_embedded(self) -> bool:
        return self.redis_url is None

    def flask_config(self) -> dict[str, Any]:
        return {
            "ENV_NAME": self.env,
            "LOG_LEVEL": self.log_level,
            "PUBLIC_BASE_URL": self.public_base_url,
            "INVOICE_ISSUER": self.issuer,
            "PDF_FONT": self.pdf_font,
            "PLATFORM_HOSTS": frozenset(self.hosts),
            "EMBEDDED_WORKER": self.redis_url is None,
            "QUEUE_PREFIX": self.queue_prefix,
            # seconds between a busy dispatch job's passes over the outbox (webhooks.jobs)
            "WEBHOOK_DISPATCH_PAUSE": 0.2,
            # plain http and private/loopback webhook targets (the local demo and the tests)
            "WEBHOOK_ALLOW_PRIVATE_TARGETS": self.webhook_allow_private,
            "SECRET_KEY": self.secret_key,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "VAULT_KEYS": self.vault_keys,
            "VAULT_FINGERPRINT_KEY": self.vault_fingerprint_key,
            "MAX_CONTENT_LENGTH": 1024 * 1024,
            "JSON_SORT_KEYS": False,
            "OAUTH2_TOKEN_EXPIRES_IN": {"client_credentials": 3600},
            "RATE_LIMIT": self.rate_limit,
            "RATELIMIT_STORAGE_URI": self.redis_url or "memory://",
            "RATELIMIT_HEADERS_ENABLED": True,
            # Redis away: count in each process's memory until it is back, never answer 500
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
            "ARGON2_PROFILE": "default",
            "API_TITLE": "Quanyi API",
            "API_VERSION": "v1",
            "OPENAPI_VERSION": "3.1.0",
            # the documents and their pages are served by app/apidocs (two documents, not one)
            "OPENAPI_URL_PREFIX": None,
            # the web front ends (admin portal, mall): cookies never readable by scripts, sent
            # only over https in production, not on cross-site requests
            "SESSION_COOKIE_SECURE": self.env == "production",
            "SESSION_COOKIE_HTTPONLY": True,
            "SESSION_COOKIE_SAMESITE": "Lax",
            "SMTP_URL": self.smtp_url,
            "MAIL_DIR": self.mail_dir,
            "NOTIFY_OUTBOX_DIR": self.outbox_dir,
            "NOTIFY_SMS_PROVIDER": self.sms_provider,
            "MAIL_FROM": self.mail_from,
            "STAFF_IDLE_MINUTES": self.staff_idle_minutes,
            "STAFF_SESSION_HOURS": self.staff_session_hours,
            "BABEL_DEFAULT_LOCALE": "zh_CN",
            "BABEL_DEFAULT_TIMEZONE": "Asia/Shanghai",
            # CSRF is checked by the web blueprints themselves (the JSON API uses bearer tokens)
            "WTF_CSRF_CHECK_DEFAULT": False,
            "WTF_CSRF_TIME_LIMIT": None,
        }


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read settings; raise ConfigError with a clear message when production lacks real keys."""
    env = dict(os.environ if environ is None else environ)
    mode = env.get("QUANYI_ENV", "development")
    secret_key = env.get("QUANYI_SECRET_KEY")
    vault_keys = env.get("QUANYI_VAULT_KEYS")
    fingerprint_key = env.get("QUANYI_VAULT_FINGERPRINT_KEY")
    if mode == "production":
        missing = [
            name
            for name, value in (
                ("QUANYI_SECRET_KEY", secret_key),
                ("QUANYI_VAULT_KEYS", vault_keys),
                ("QUANYI_VAULT_FINGERPRINT_KEY", fingerprint_key),
            )
            if not value
        ]
        if missing:
            raise ConfigError(
                "QUANYI_ENV=production needs real keys; missing: "
                + ", ".join(missing)
                + ". Generate one with: python -c 'import secrets,base64;"
                " print(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())'"
            )
        if not env.get("DATABASE_URL"):
            raise ConfigError("QUANYI_ENV=production needs DATABASE_URL (PostgreSQL).")
    database_url = env.get("DATABASE_URL") or f"sqlite:///{INSTANCE / 'quanyi.db'}"
    return Settings(
        env=mode,
        database_url=normalize_database_url(database_url),
        redis_url=env.get("REDIS_URL") or None,
        secret_key=secret_key or _dev_secret("secret_key", 32),
        vault_keys=vault_keys or "dev1:" + _dev_secret("vault_key", 32),
        vault_fingerprint_key=fingerprint_key or _dev_secret("vault_fingerprint_key", 32),
        rate_limit=env.get("QUANYI_RATE_LIMIT", "1200 per minute"),
        log_level=env.get("LOG_LEVEL", "INFO").upper(),
        public_base_url=env.get("QUANYI_PUBLIC_BASE_URL", "http://127.0.0.1:5000"),
        queue_prefix=env.get("QUANYI_QUEUE_PREFIX", ""),
        staff_idle_minutes=int(env.get("QUANYI_STAFF_IDLE_MINUTES", "30")),
        staff_session_hours=int(env.get("QUANYI_STAFF_SESSION_HOURS", "12")),
        smtp_url=env.get("QUANYI_SMTP_URL") or None,
        mail_dir=env.get("QUANYI_MAIL_DIR", str(INSTANCE / "mail")),
        outbox_dir=env.get("QUANYI_OUTBOX_DIR", str(INSTANCE / "outbox")),
        sms_provider=env.get("QUANYI_SMS_PROVIDER", "dev"),
        mail_from=env.get("QUANYI_MAIL_FROM", "Quanyi <no-reply@quanyi.example>"),
        webhook_allow_private=env.get("QUANYI_WEBHOOK_ALLOW_PRIVATE") == "1",
        issuer=Issuer(
            name=env.get("QUANYI_ISSUER_NAME", DEMO_ISSUER.name),
            tax_id=env.get("QUANYI_ISSUER_TAX_ID", DEMO_ISSUER.tax_id),
            address=env.get("QUANYI_ISSUER_ADDRESS", DEMO_ISSUER.address),
            bank=env.get("QUANYI_ISSUER_BANK", DEMO_ISSUER.bank),
        ),
        pdf_font=env.get("QUANYI_PDF_FONT", DEFAULT_PDF_FONT),
        hosts=tuple(h.strip().lower() for h in env.get("QUANYI_HOSTS", "").split(",") if h.strip()),
    )
