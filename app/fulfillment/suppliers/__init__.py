"""Supplier adapters: one small interface, one generic implementation of the common
HMAC-signed JSON protocol of virtual-goods recharge platforms."""

from __future__ import annotations

from app.core.vault import Vault
from app.fulfillment.suppliers.base import SupplierAdapter
from app.fulfillment.suppliers.generic import GenericJsonAdapter
from app.fulfillment.suppliers.sandbox import SandboxAdapter
from app.supply.models import Supplier
from app.supply.suppliers import supplier_credentials


def adapter_for(supplier: Supplier, vault: Vault, timeout_seconds: float = 5.0) -> SupplierAdapter:
    if supplier.is_sandbox:
        return SandboxAdapter()
    credentials = supplier_credentials(vault, supplier)
    return GenericJsonAdapter(
        base_url=supplier.api_base_url or "",
        merchant=credentials.get("merchant", credentials.get("app_key", "")),
        secret=credentials.get("secret", ""),
        timeout_seconds=timeout_seconds,
    )
