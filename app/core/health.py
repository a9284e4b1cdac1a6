"""Liveness and readiness probes for load balancers and orchestrators."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify
from sqlalchemy import text

from app.core.errors import problem

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz() -> Any:
    """The process is alive; says nothing about its dependencies."""
    return jsonify(status="ok")


def _check_database() -> str:
    from app.extensions import db

    session = db.session()
    try:
        session.execute(text("SELECT 1"))
        return "ok"
    except Exception:  # noqa: BLE001 - any failure means "not ready"
        session.rollback()
        return "down"


def _check_redis() -> str:
    from app.core.queue import redis_connection

    try:
        redis_connection(current_app).ping()
        return "ok"
    except Exception:  # noqa: BLE001
        return "down"


@blp.get("/readyz")
def readyz() -> Any:
    """Ready to serve: the database answers, and Redis too when it is configured."""
    checks = {"database": _check_database()}
    if current_app.config.get("REDIS_URL"):
        checks["redis"] = _check_redis()
    down = sorted(name for name, state in checks.items() if state != "ok")
    if down:
        return problem("dependency_down", f"Unreachable: {', '.join(down)}.", checks=checks)
    return jsonify(status="ok", checks=checks)
