"""What each event's `data` holds, one schema per event type, the same from every path that
records it. The OpenAPI documents publish them (`webhooks`), and the test suite checks every
event any test records against them."""

from __future__ import annotations

from marshmallow import Schema, fields

from app.core.money import MoneySchema, SignedMoneySchema


def _text(description: str = "") -> fields.String:
    return fields.String(
        required=True, metadata={"description": description} if description else {}
    )


class OrderEvent(Schema):
    order_id = _text()
    member = _text("the member's external_id")
    status = _text("the order's status after the change")


class DeliveryFailedEvent(Schema):
    delivery_id = _text()
    order_id = _text()
    reason = _text("why the last offer failed (after failover)")


class DoubleDeliveryEvent(Schema):
    delivery_id = _text()
    partner_id = _text()
    order_id = _text()
    supplier_id = _text()
    supplier_order_no = fields.String(required=True, allow_none=True)


class EntitlementCreatedEvent(Schema):
    entitlement_id = _text()
    order_id = _text()
    member = _text("the member's external_id")


class EntitlementExpiredEvent(Schema):
    entitlement_id = _text()
    order_id = _text()
    valid_until = fields.String(required=True, allow_none=True, metadata={"format": "date-time"})


class EntitlementRevokedEvent(Schema):
    entitlement_id = _text()
    order_id = _text()
    member = _text("the member's external_id")
    reason = _text("code_reported_invalid (the supplier says the code does not work), …")


class CaseEvent(Schema):
    case_id = _text()
    order_id = _text()
    delivery_id = _text("the unit the case is about")
    kind = _text("code_not_working | recharge_not_received | other")
    status = _text("open | resolved")
    resolution = fields.String(
        required=True, allow_none=True, metadata={"description": "reissued | refunded | rejected"}
    )


class BalanceLowEvent(Schema):
    available = fields.Nested(SignedMoneySchema, required=True)
    threshold = fields.Nested(SignedMoneySchema, required=True)


class InvoiceIssuedEvent(Schema):
    invoice_id = _text()
    number = _text()
    kind = _text("invoice | credit_note")
    period = _text("YYYY-MM")
    total = fields.Nested(SignedMoneySchema, required=True)


class StockLowEvent(Schema):
    product_id = _text()
    available = fields.Integer(required=True)
    threshold = fields.Integer(required=True)


class AuthorizationLapsedEvent(Schema):
    product_id = _text()
    brand = _text()
    date = _text("the day it lapsed (YYYY-MM-DD)")


class SupplierBalanceLowEvent(Schema):
    supplier_id = _text()
    balance_minor = fields.Integer(required=True)
    threshold_minor = fields.Integer(required=True)


class NotificationEvent(Schema):
    notification_id = _text("one per (kind, subject): a repeat of this id is the same message")
    member = _text("the member's external_id")
    kind = _text("the part after `notification.`")
    language = _text("zh_CN | en: the member's language")
    text = _text("the message, in your wording when you set one in partner.yaml")
    order_id = fields.String(required=True, allow_none=True)
    subject_id = _text("the entitlement, delivery or case (with its status) it is about")


class PaymentRefundRequestedEvent(Schema):
    payment_id = _text("the mall's payment, as in the payment page's request")
    payment_ref = _text("your payment number, from your signed result")
    member = _text("the member's external_id")
    amount = fields.Nested(MoneySchema, required=True)
    reason = _text("why the order could not be placed after the member paid")


class PingEvent(Schema):
    endpoint_id = _text("the endpoint the test was sent to")


PING = "ping"
ORDER_EVENTS = (
    "order.created",
    "order.fulfilled",
    "order.partially_fulfilled",
    "order.failed",
    "order.cancelled",
    "order.refunded",
)
# for partners that send members' notifications themselves (app.partners NOTIFICATION_KINDS)
NOTIFICATION_EVENTS = (
    "notification.code_delivered",
    "notification.recharge_completed",
    "notification.recharge_failed",
    "notification.entitlement_expiring",
    "notification.case_updated",
)
# event type → (schema of its data, who receives it: a partner or the platform)
PAYLOADS: dict[str, tuple[type[Schema], str]] = {
    **{event: (OrderEvent, "partner") for event in ORDER_EVENTS},
    "delivery.failed": (DeliveryFailedEvent, "partner"),
    "entitlement.created": (EntitlementCreatedEvent, "partner"),
    "entitlement.expired": (EntitlementExpiredEvent, "partner"),
    "entitlement.revoked": (EntitlementRevokedEvent, "partner"),
    "case.opened": (CaseEvent, "partner"),
    "case.resolved": (CaseEvent, "partner"),
    **{event: (NotificationEvent, "partner") for event in NOTIFICATION_EVENTS},
    "payment.refund_requested": (PaymentRefundRequestedEvent, "partner"),
    "partner.balance_low": (BalanceLowEvent, "partner"),
    "invoice.issued": (InvoiceIssuedEvent, "partner"),
    "delivery.double_delivery": (DoubleDeliveryEvent, "platform"),
    "stock.low": (StockLowEvent, "platform"),
    "supply.authorization_lapsed": (AuthorizationLapsedEvent, "platform"),
    "supplier.balance_low": (SupplierBalanceLowEvent, "platform"),
    PING: (PingEvent, "both"),
}
