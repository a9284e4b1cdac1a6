from __future__ import annotations

import pytest

from app.config import ConfigError, load_settings


def test_production_refuses_to_start_without_real_keys():
    with pytest.raises(ConfigError, match="QUANYI_SECRET_KEY.*QUANYI_VAULT_KEYS.*FINGERPRINT"):
        load_settings({"QUANYI_ENV": "production", "DATABASE_URL": "postgresql://x/y"})


def test_production_needs_a_database_url():
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings(
            {
                "QUANYI_ENV": "production",
                "QUANYI_SECRET_KEY": "s",
                "QUANYI_VAULT_KEYS": "k1:x",
                "QUANYI_VAULT_FINGERPRINT_KEY": "f",
            }
        )


def test_production_with_keys_uses_them():
    settings = load_settings(
        {
            "QUANYI_ENV": "production",
            "QUANYI_SECRET_KEY": "real",
            "QUANYI_VAULT_KEYS": "k1:abc",
            "QUANYI_VAULT_FINGERPRINT_KEY": "fp",
            "DATABASE_URL": "postgres://db/quanyi",
            "REDIS_URL": "redis://r:6379/0",
        }
    )
    assert settings.secret_key == "real"
    assert settings.database_url == "postgresql+psycopg://db/quanyi"
    assert not settings.is_embedded


def test_embedded_mode_uses_sqlite_and_keeps_a_stable_development_key():
    first = load_settings({})
    second = load_settings({})
    assert first.database_url.startswith("sqlite:///") and first.database_url.endswith(
        "instance/quanyi.db"
    )
    assert first.is_embedded
    assert first.secret_key == second.secret_key and len(first.secret_key) >= 40
    assert first.vault_keys == second.vault_keys


def test_the_demo_is_never_seeded_in_production(app, monkeypatch):
    from sqlalchemy import func, select

    from app.extensions import db
    from app.partners.models import Partner

    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    result = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert result.exit_code != 0 and "production" in result.output
    assert db.session.scalar(select(func.count()).select_from(Partner)) == 0
