"""RQ jobs of the fulfillment engine. Thin: load by id, call the service, commit. Each is safe
to run twice and after a crash (see app.fulfillment.service)."""

from __future__ import annotations

from flask import current_app

from app.core.db import utcnow
from app.core.queue import job_app_context as app_context
from app.core.vault import current_vault
from app.extensions import db
from app.fulfillment import service
from app.fulfillment.models import Delivery
from app.fulfillment.suppliers import adapter_for
from app.supply.models import Offer, Supplier


def _callback_url(supplier_id: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL'].rstrip('/')}/callbacks/suppliers/{supplier_id}"


def submit_delivery(delivery_id: str) -> None:
    with app_context():
        with db.transaction() as session:
            submission = service.begin_submission(session, delivery_id, utcnow())
        if submission is None:
            return
        supplier = db.session().get_one(Supplier, submission.supplier_id)
        adapter = adapter_for(supplier, current_vault())
        result = adapter.submit(
            submission.delivery_id, submission.sku, submission.account, _callback_url(supplier.id)
        )
        with db.transaction() as session:
            service.record_submission(session, submission, result, utcnow())
            if result.report is not None:  # the supplier answered with its final result
                service.apply_report(
                    session, delivery_id, supplier.id, result.report, utcnow(), current_vault()
                )


def poll_delivery(delivery_id: str) -> None:
    with app_context():
        session = db.session()
        delivery = session.get(Delivery, delivery_id)
        if delivery is None or delivery.status != "submitted" or delivery.offer_id is None:
            return
        supplier = session.get_one(Supplier, session.get_one(Offer, delivery.offer_id).supplier_id)
        session.commit()
        report = adapter_for(supplier, current_vault()).query(delivery_id)
        with db.transaction() as session:
            service.apply_report(
                session, delivery_id, supplier.id, report, utcnow(), current_vault()
            )


def poll_open_submissions(delivery_id: str) -> None:
    """Ask each supplier we failed over from, and that never answered for good, about the
    delivery; HTTP outside any transaction."""
    with app_context():
        session = db.session()
        delivery = session.get(Delivery, delivery_id)
        supplier_ids = [e["supplier_id"] for e in (delivery.open_submissions if delivery else [])]
        suppliers = [session.get_one(Supplier, supplier_id) for supplier_id in supplier_ids]
        session.commit()
        for supplier in suppliers:
            report = adapter_for(supplier, current_vault()).query(delivery_id)
            with db.transaction() as session:
                service.close_open_submission(
                    session, delivery_id, supplier.id, report, utcnow(), current_vault()
                )


def sweep() -> None:
    with app_context(), db.transaction() as session:
        service.sweep(session, utcnow())
    check_supplier_balances()


def check_supplier_balances() -> None:
    """Ask each supplier (due for it) for our balance; HTTP outside any transaction."""
    with app_context():
        session = db.session()
        due = service.suppliers_due_for_balance_check(session, utcnow())
        session.commit()
        for supplier in due:
            balance = adapter_for(supplier, current_vault(), timeout_seconds=3).balance()
            with db.transaction() as tx:
                service.record_supplier_balance(tx, supplier.id, balance, utcnow())
