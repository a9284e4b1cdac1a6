"""Supplier callbacks: signed by the supplier, not OAuth; a forged one changes nothing."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import jsonify, request
from flask_smorest import Blueprint

from app.core.db import utcnow
from app.core.errors import NotFound, Unauthorized
from app.core.principal import requires
from app.core.vault import current_vault
from app.extensions import db
from app.fulfillment import service, stats
from app.fulfillment.suppliers import adapter_for
from app.fulfillment.suppliers.base import InvalidSignature
from app.supply.models import Supplier
from app.supply.schemas import SupplierStatsQuerySchema, SupplierStatsSchema
from app.supply.suppliers import get_supplier, supplier_credentials

log = logging.getLogger("quanyi.callbacks")

blp = Blueprint("callbacks", __name__, url_prefix="/callbacks", description="Supplier callbacks")


@blp.route("/suppliers/<supplier_id>", methods=["POST"])
@blp.doc(summary="A supplier reports a recharge result (signed body)", security=[])
def supplier_callback(supplier_id: str) -> Any:
    """Receive a supplier's recharge result.

    Suppliers call this with a signed body when a direct recharge completes or fails; answered
    once per result, repeats are harmless.
    """
    session = db.session()
    supplier = session.get(Supplier, supplier_id)
    if supplier is None:
        raise NotFound("Unknown supplier.")
    if not supplier_credentials(current_vault(), supplier).get("secret"):
        # nothing to verify against: an empty secret would let anyone sign
        log.warning(
            "callback for a supplier without credentials", extra={"supplier_id": supplier_id}
        )
        raise Unauthorized("This supplier has no credentials; its callbacks are refused.")
    try:
        report = adapter_for(supplier, current_vault()).parse_callback(request.get_data())
    except InvalidSignature:
        log.warning("forged or malformed supplier callback", extra={"supplier_id": supplier_id})
        raise Unauthorized("The callback signature does not verify.") from None
    outcome = service.apply_report(
        session, report.reference, supplier.id, report, utcnow(), current_vault()
    )
    return jsonify(ok=True, outcome=outcome)


platform_blp = Blueprint(
    "platform_fulfillment",
    __name__,
    url_prefix="/api/v1/platform",
    description="Platform: supplier performance",
)


@platform_blp.route("/suppliers/<supplier_id>/stats")
@requires("platform")
@platform_blp.arguments(SupplierStatsQuerySchema(), location="query")
@platform_blp.response(200, SupplierStatsSchema)
def supplier_stats(args: dict[str, Any], supplier_id: str) -> Any:
    """Read a supplier's delivery statistics.

    Success rate, latency and failures of the supplier's deliveries over a period.
    """
    session = db.session()
    supplier = get_supplier(session, supplier_id)
    since = utcnow() - timedelta(hours=args["window_hours"])
    return stats.supplier_stats(session, supplier.id, since)
