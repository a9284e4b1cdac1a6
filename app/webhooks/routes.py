"""Partner webhook endpoints, their delivery log, and event replay (scope webhooks:write)."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from app.core.http import request_actor
from app.core.openapi import raises
from app.core.pagination import PageArgsSchema, page_schema
from app.core.principal import requires
from app.core.tenancy import current_partner_id
from app.core.vault import current_vault
from app.extensions import db, limiter
from app.webhooks import endpoints, outbox
from app.webhooks.schemas import (
    EndpointCreateSchema,
    EndpointSchema,
    IssuedEndpointSchema,
    ReplaySchema,
    WebhookDeliverySchema,
)

blp = Blueprint("webhooks", __name__, url_prefix="/api/v1", description="Partner: webhooks")


@blp.route("/webhook-endpoints", methods=["POST"])
@requires("webhooks:write")
@blp.arguments(EndpointCreateSchema())
@blp.response(201, IssuedEndpointSchema)
@raises("webhook_url_not_allowed", "webhook_endpoint_limit")
def create_endpoint(data: dict[str, Any]) -> Any:
    """Register a webhook endpoint.

    The secret signs every delivery (`Quanyi-Signature`); it is shown only here.
    """
    return endpoints.create_endpoint(
        db.session(),
        request_actor(),
        current_vault(),
        current_partner_id(),
        data["url"],
        data["events"],
        allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"],
    )


@blp.route("/webhook-endpoints")
@requires("webhooks:write")
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, page_schema(EndpointSchema))
def list_endpoints(args: dict[str, Any]) -> Any:
    """List webhook endpoints.

    This partner's endpoints and the event types each receives.
    """
    return endpoints.list_endpoints(
        db.session(), current_partner_id(), args["limit"], args["cursor"]
    )


@blp.route("/webhook-endpoints/<endpoint_id>", methods=["DELETE"])
@requires("webhooks:write")
@blp.response(204)
def delete_endpoint(endpoint_id: str) -> None:
    """Delete a webhook endpoint.

    No more deliveries go to it; past deliveries stay readable.
    """
    session = db.session()
    endpoints.delete_endpoint(
        session, request_actor(), endpoints.get_endpoint(session, current_partner_id(), endpoint_id)
    )


@blp.route("/webhook-endpoints/<endpoint_id>/rotate-secret", methods=["POST"])
@requires("webhooks:write")
@blp.response(200, IssuedEndpointSchema)
def rotate_secret(endpoint_id: str) -> Any:
    """Rotate an endpoint's secret.

    New secret now; for 24 h deliveries carry both signatures so receivers can switch.
    """
    session = db.session()
    endpoint = endpoints.get_endpoint(session, current_partner_id(), endpoint_id)
    return endpoints.rotate_endpoint_secret(session, request_actor(), current_vault(), endpoint)


@blp.route("/webhook-endpoints/<endpoint_id>/test", methods=["POST"])
@requires("webhooks:write")
@blp.response(202, WebhookDeliverySchema)
def test_endpoint(endpoint_id: str) -> Any:
    """Send a test event.

    A signed `ping` event (`data.endpoint_id`) goes to this endpoint only, whatever event
    types it subscribed to; the answer is its delivery, whose status and last response code
    `GET /api/v1/webhook-endpoints/{endpoint_id}/deliveries` then shows.
    """
    session = db.session()
    endpoint = endpoints.get_endpoint(session, current_partner_id(), endpoint_id)
    return outbox.send_test(session, request_actor(), endpoint)


@blp.route("/webhook-endpoints/<endpoint_id>/deliveries")
@requires("webhooks:write")
@blp.arguments(PageArgsSchema(), location="query")
@blp.response(200, page_schema(WebhookDeliverySchema))
def list_deliveries(args: dict[str, Any], endpoint_id: str) -> Any:
    """List an endpoint's deliveries.

    Attempts to deliver events to this endpoint, newest first: status, attempts, last response.
    """
    session = db.session()
    endpoint = endpoints.get_endpoint(session, current_partner_id(), endpoint_id)
    return endpoints.list_deliveries(session, endpoint, args["limit"], args["cursor"])


@blp.route("/events/<event_id>/replay", methods=["POST"])
@requires("webhooks:write")
@limiter.limit("20 per minute")
@blp.response(202, ReplaySchema)
def replay_event(event_id: str) -> Any:
    """Replay an event.

    Send the event again to the partner's active endpoints that want it.
    """
    count = outbox.replay_event(db.session(), request_actor(), current_partner_id(), event_id)
    return {"deliveries": count}


platform_blp = Blueprint(
    "platform_webhooks",
    __name__,
    url_prefix="/api/v1/platform",
    description="Platform: webhook endpoints for platform events (stock.low, supply.*, supplier.*)",
)


@platform_blp.route("/webhook-endpoints", methods=["POST"])
@requires("platform")
@platform_blp.arguments(EndpointCreateSchema())
@platform_blp.response(201, IssuedEndpointSchema)
@raises("webhook_url_not_allowed", "webhook_endpoint_limit")
def create_platform_endpoint(data: dict[str, Any]) -> Any:
    """Register a platform webhook endpoint.

    An endpoint of ours receiving platform events (supplier balance, failed deliveries…).
    """
    return endpoints.create_endpoint(
        db.session(),
        request_actor(),
        current_vault(),
        None,
        data["url"],
        data["events"],
        allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE_TARGETS"],
    )


@platform_blp.route("/webhook-endpoints")
@requires("platform")
@platform_blp.arguments(PageArgsSchema(), location="query")
@platform_blp.response(200, page_schema(EndpointSchema))
def list_platform_endpoints(args: dict[str, Any]) -> Any:
    """List platform webhook endpoints.

    The platform's own endpoints.
    """
    return endpoints.list_endpoints(db.session(), None, args["limit"], args["cursor"])


@platform_blp.route("/webhook-endpoints/<endpoint_id>", methods=["DELETE"])
@requires("platform")
@platform_blp.response(204)
def delete_platform_endpoint(endpoint_id: str) -> None:
    """Delete a platform webhook endpoint.

    No more deliveries go to it.
    """
    session = db.session()
    endpoints.delete_endpoint(
        session, request_actor(), endpoints.get_endpoint(session, None, endpoint_id)
    )


@platform_blp.route("/webhook-endpoints/<endpoint_id>/deliveries")
@requires("platform")
@platform_blp.arguments(PageArgsSchema(), location="query")
@platform_blp.response(200, page_schema(WebhookDeliverySchema))
def list_platform_deliveries(args: dict[str, Any], endpoint_id: str) -> Any:
    """List a platform endpoint's deliveries.

    Attempts to deliver events to it, newest first.
    """
    session = db.session()
    endpoint = endpoints.get_endpoint(session, None, endpoint_id)
    return endpoints.list_deliveries(session, endpoint, args["limit"], args["cursor"])
