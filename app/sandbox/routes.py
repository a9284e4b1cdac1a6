"""Platform: give a partner its sandbox (then create sandbox clients on the twin it returns)."""

from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from app.core.http import request_actor
from app.core.openapi import raises
from app.core.principal import requires
from app.core.vault import current_vault
from app.extensions import db
from app.partners.schemas import PartnerSchema
from app.partners.service import get_partner
from app.sandbox import service

platform_blp = Blueprint(
    "platform_sandbox",
    __name__,
    url_prefix="/api/v1/platform/partners",
    description="Platform: partners' sandboxes (test mode)",
)


@platform_blp.route("/<partner_id>/sandbox", methods=["POST"])
@requires("platform")
@platform_blp.response(200, PartnerSchema)
@raises(service.NotALivePartner)
def provision_sandbox(partner_id: str) -> Any:
    """Provision a partner's sandbox.

    The partner's test-mode twin: a partner of its own (`sandbox_of_id` names the live one)
    listing the sandbox catalog, with test money in its account. Create sandbox API clients on
    it with `POST /api/v1/platform/partners/{twin id}/clients`. Safe to call again: it tops up
    the test money and test codes and changes nothing else.
    """
    session = db.session()
    live = get_partner(session, partner_id)
    return service.provision(session, request_actor(), current_vault(), live)
