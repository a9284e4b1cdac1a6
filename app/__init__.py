"""Quanyi application factory."""

from __future__ import annotations

import threading
from typing import Any

from apispec.ext.marshmallow import MarshmallowPlugin
from flask import Flask
from flask_smorest import Api

from app.config import load_settings
from app.core.errors import ProblemSchema
from app.core.openapi import ErrorDocsPlugin, computed2properties


class QuanyiApi(Api):
    """flask-smorest's Api documenting our problem+json error shape; the error responses of
    each operation are written by `ErrorDocsPlugin`, not its generic default."""

    ERROR_SCHEMA = ProblemSchema
    DEFAULT_ERROR_RESPONSE_NAME = None


def schema_name(schema: Any) -> Any:
    """Component names are the class names; a PATCH (partial) variant is inlined."""
    if not isinstance(schema, type) and schema.partial:
        return None
    cls = schema if isinstance(schema, type) else type(schema)
    return cls.__name__.removesuffix("Schema")


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment; `overrides` (tests) win over it."""
    from app import models  # noqa: F401 - every table registered before use
    from app.admin import init_admin
    from app.apidocs.cli import apidocs_cli
    from app.apidocs.documents import register_event_schemas
    from app.apidocs.routes import blp as apidocs_blp
    from app.auth import service as auth_service
    from app.auth.cli import staff_cli
    from app.auth.models import ALL_SCOPES
    from app.auth.oauth import init_oauth
    from app.auth.request_log import init_request_log
    from app.auth.routes import blp as oauth_blp
    from app.auth.web import init_staff_auth
    from app.billing.cli import billing_cli
    from app.billing.routes import blp as billing_blp
    from app.billing.routes import platform_blp as billing_platform_blp
    from app.core.cli import db_cli, idempotency_cli
    from app.core.errors import register_error_handlers
    from app.core.health import blp as health_blp
    from app.core.http import init_request_transaction, retry_after_only_when_retrying
    from app.core.logging import configure_logging, init_request_ids
    from app.core.principal import PERMISSIONS
    from app.core.web import init_web
    from app.demo import demo_cli
    from app.entitlements.cli import entitlements_cli
    from app.entitlements.routes import blp as entitlements_blp
    from app.exports.cli import exports_cli
    from app.extensions import db, limiter
    from app.fulfillment.cli import fulfillment_cli, supplier_sim_command
    from app.fulfillment.routes import blp as callbacks_blp
    from app.fulfillment.routes import platform_blp as fulfillment_platform_blp
    from app.invariants import invariants_cli
    from app.mall.hosts import PartnerHosts, partner_host_middleware
    from app.mall.routes import blp as mall_api_blp
    from app.mall.web import init_mall
    from app.members.cli import members_cli
    from app.members.routes import blp as members_blp
    from app.notifications.cli import notifications_cli
    from app.orders import outcomes  # noqa: F401 - the order hears of its units' outcomes
    from app.orders.checkout import DEFAULT_POLICIES
    from app.orders.cli import orders_cli
    from app.orders.routes import blp as orders_blp
    from app.partners.assets import blp as partner_assets_blp
    from app.partners.cli import partners_cli, platform_cli
    from app.partners.routes import blp as partner_blp
    from app.partners.routes import platform_blp
    from app.sandbox.cli import sandbox_cli
    from app.sandbox.routes import platform_blp as sandbox_platform_blp
    from app.supply.cli import supply_cli
    from app.supply.routes import blp as supply_blp
    from app.vault_cli import vault_cli
    from app.webhooks.routes import blp as webhooks_blp
    from app.webhooks.routes import platform_blp as webhooks_platform_blp

    app = Flask(__name__, instance_relative_config=False)
    app.config.update(load_settings().flask_config())
    app.config.update(overrides or {})
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    configure_logging(app.config.get("LOG_LEVEL", "INFO"))
    auth_service.configure_hasher(app.config["ARGON2_PROFILE"])

    db.init_app(app)
    init_request_ids(app)
    # registered before the limiter's own hook, so it runs after it (Flask runs them reversed)
    app.after_request(retry_after_only_when_retrying)
    limiter.init_app(app)
    init_oauth(app)
    init_request_log(app)
    # the pluggable parts of checkout and the catalog (price adjusters, risk check)
    app.extensions.setdefault("quanyi_checkout", DEFAULT_POLICIES)

    api = QuanyiApi(
        app,
        spec_kwargs={
            "marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name),
            "extra_plugins": [ErrorDocsPlugin()],
        },
    )
    app.extensions["quanyi_api"] = api
    api.ma_plugin.converter.add_attribute_function(computed2properties)
    api.spec.components.security_scheme(
        "oauth2",
        {
            "type": "oauth2",
            "flows": {
                "clientCredentials": {
                    "tokenUrl": "/oauth/token",
                    "scopes": {scope: PERMISSIONS[scope] for scope in ALL_SCOPES},
                }
            },
        },
    )
    api.spec.components.security_scheme("clientBasic", {"type": "http", "scheme": "basic"})
    for blueprint in (
        oauth_blp,
        partner_blp,
        orders_blp,
        members_blp,
        entitlements_blp,
        webhooks_blp,
        platform_blp,
        sandbox_platform_blp,
        supply_blp,
        callbacks_blp,
        fulfillment_platform_blp,
        webhooks_platform_blp,
        billing_blp,
        billing_platform_blp,
        mall_api_blp,
    ):
        api.register_blueprint(blueprint)
    register_event_schemas(api.spec)
    for public in (health_blp, apidocs_blp, partner_assets_blp):
        app.register_blueprint(public)
        limiter.exempt(public)
    register_error_handlers(app)
    init_web(app, blueprints=("admin", "mall"))
    init_staff_auth(app)
    init_admin(app)
    init_mall(app)

    init_request_transaction(app, db.session)
    if not app.config.get("REDIS_URL"):
        _embed(app)
    app.wsgi_app = partner_host_middleware(  # type: ignore[method-assign,assignment]
        app.wsgi_app, PartnerHosts(db.session), app.config.get("PLATFORM_HOSTS", frozenset())
    )
    for group in (
        apidocs_cli,
        db_cli,
        exports_cli,
        idempotency_cli,
        partners_cli,
        platform_cli,
        sandbox_cli,
        staff_cli,
        orders_cli,
        demo_cli,
        supply_cli,
        vault_cli,
        notifications_cli,
        members_cli,
        entitlements_cli,
        fulfillment_cli,
        billing_cli,
        invariants_cli,
        supplier_sim_command,
    ):
        app.cli.add_command(group)
    return app


def _embed(app: Flask) -> None:
    """Embedded mode (no Redis): the simulated supplier is mounted at /supplier-sim (and a
    partner's simulated points ledger at /points-sim, its payment page at /pay-sim), and the
    RQ queues (on fakeredis) are drained by a background thread started with the first
    request, which also runs the fulfillment sweep."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from app.billing import jobs as billing_jobs
    from app.core.queue import every, start_embedded_worker
    from app.entitlements import jobs as entitlement_jobs
    from app.exports import jobs as export_jobs
    from app.fulfillment import jobs
    from app.fulfillment.simulator import create_simulator
    from app.mall.pay_sim import create_pay_simulator
    from app.members import jobs as member_jobs
    from app.members.points_sim import create_points_simulator
    from app.notifications import jobs as notification_jobs
    from app.orders import jobs as order_jobs
    from app.supply import jobs as supply_jobs
    from app.webhooks import jobs as webhook_jobs

    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app,
        {
            "/supplier-sim": create_simulator(),
            "/points-sim": create_points_simulator(),
            "/pay-sim": create_pay_simulator(),
        },
    )
    if not app.config.get("EMBEDDED_WORKER"):
        return
    once = threading.Lock()

    @app.before_request
    def _start_worker() -> None:
        if once.acquire(blocking=False):  # never released: the first request starts it
            start_embedded_worker(
                app,
                [
                    jobs.sweep,
                    webhook_jobs.periodic,
                    every(300, supply_jobs.check_authorizations),
                    every(300, member_jobs.expire_due_points),
                    every(20, member_jobs.send_due_moves),
                    every(10, notification_jobs.run),
                    every(300, order_jobs.refresh_recent_dashboards),
                    every(300, export_jobs.periodic),
                    every(3600, entitlement_jobs.expire_due_entitlements),
                    every(3600, billing_jobs.generate_monthly_invoices),
                ],
            )
