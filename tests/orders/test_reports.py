"""Dashboard figures: a day's row counts that day's orders (in the partner's timezone) and
their deliveries; stored rows and live figures agree; the dashboard reads stored rows for past
days and computes today live."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from app.core.db import utcnow
from app.orders import reports
from app.orders.models import OrderDayStat
from tests.factories import fund, make_member, place, sellable_card_key_listing


def test_today_counts_orders_value_units_and_deliveries(session, partner_a):
    fund(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=10_000)
    listing = sellable_card_key_listing(session, partner_a, codes=5, points=700)
    for _ in range(3):
        place(session, partner_a, member, listing)
    today = utcnow().astimezone(ZoneInfo(partner_a.timezone)).date()
    day = reports.compute_day(session, partner_a.id, today, partner_a.timezone)
    assert (day.orders, day.points, day.delivered, day.failed) == (3, 2_100, 3, 0)
    assert day.product_units == {listing.product_id: 3}
    assert sum(day.latency_buckets) == 3
    yesterday = reports.compute_day(
        session, partner_a.id, today - timedelta(days=1), partner_a.timezone
    )
    assert yesterday.orders == 0

    reports.refresh_days(session, partner_a.id, partner_a.timezone, [today], utcnow())
    session.commit()
    row = session.get_one(OrderDayStat, (partner_a.id, today))
    assert (row.orders, row.points, row.product_units) == (3, 2_100, day.product_units)


def test_the_dashboard_reads_stored_past_days_and_computes_today(session, partner_a):
    fund(session, partner_a)
    member = make_member(session, partner_a, "m-1", points=10_000)
    place(session, partner_a, member, sellable_card_key_listing(session, partner_a, points=500))
    today = utcnow().astimezone(ZoneInfo(partner_a.timezone)).date()
    # a stored row for three days ago (as the job would have left it)
    session.add(
        OrderDayStat(
            partner_id=partner_a.id,
            day=today - timedelta(days=3),
            orders=40,
            points=12_000,
            cash_minor=0,
            wholesale_minor=9_000,
            delivered=38,
            failed=2,
            in_flight=0,
            latency_buckets=[38, 0, 0, 0, 0, 0, 0, 0, 0],
            product_units={"prd_gone": 40},
            refreshed_at=utcnow(),
        )
    )
    session.commit()
    dash = reports.dashboard(
        session, partner_a.id, partner_a.timezone, today - timedelta(days=6), today
    )
    assert dash.orders == 41 and dash.points == 12_500
    assert (dash.delivered, dash.failed) == (39, 2)
    assert dash.per_day[3] == (today - timedelta(days=3), 40) and dash.per_day[-1] == (today, 1)
    assert dash.p95_seconds == 1 and dash.top_products[0] == ("prd_gone", 40)
    assert round(dash.success_rate or 0, 3) == round(39 / 41, 3)
    assert dash.latency_buckets == [39, 0, 0, 0, 0, 0, 0, 0, 0]
    # ¥90 + ¥22 spent over 7 days: an available ¥112 lasts 7 days at that pace
    assert dash.wholesale_minor == 9_000 + 2_200
    assert dash.runway_days(11_200, 7) == 7 and dash.runway_days(-5, 7) == 0
