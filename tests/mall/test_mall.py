"""The mall as a member uses it: launched once from the partner's app, browsing at their own
price, buying a card key (a double tap places one order), revealing the code (only in that
answer, audited), and nothing of another member or partner within reach."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from app.core.audit import AuditLog
from app.mall.models import LaunchToken
from app.members.models import Member
from app.orders.models import Order
from tests.factories import fund, make_member, place, sellable_card_key_listing
from tests.mall.conftest import csrf_of, launch


def _buy(http, listing_id: str, slug: str = "partner-a", key: str | None = None):
    page = http.get(f"/m/{slug}/p/{listing_id}").get_data(as_text=True)
    form_key = key or re.search(r'name="checkout_key" type="hidden" value="([^"]+)"', page).group(1)
    answer = http.post(
        f"/m/{slug}/p/{listing_id}/buy",
        data={"csrf_token": csrf_of(page), "checkout_key": form_key, "quantity": "1"},
    )
    return answer, form_key


def test_a_launched_member_buys_reveals_and_sees_the_code_once(
    session, browser_of, api_a, shop, partner_a
):
    member = browser_of()
    entered = launch(member, api_a)
    assert entered.status_code == 302 and entered.headers["Location"].endswith("/m/partner-a/")
    home = member.get("/m/partner-a/").get_data(as_text=True)
    assert shop.product.name in home and "1,000" in home and "10,000" in home  # price, balance

    bought, _key = _buy(member, shop.id)
    assert bought.status_code == 302
    order_page = member.get(bought.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="order-status"' in order_page
    order = session.scalars(select(Order)).one()
    code = order.entitlements[0]
    assert code.masked_code in order_page
    entitlement_id = code.id
    revealed = member.post(
        f"/m/partner-a/entitlements/{entitlement_id}/reveal",
        data={"csrf_token": csrf_of(order_page)},
    )
    assert revealed.status_code == 200 and revealed.headers["Cache-Control"] == "no-store"
    plain = re.search(r'data-testid="code">([^<]+)<', revealed.get_data(as_text=True)).group(1)
    assert plain not in member.get(bought.headers["Location"]).get_data(as_text=True)
    audit = session.scalars(select(AuditLog).where(AuditLog.action == "entitlement.revealed")).one()
    assert (audit.actor_kind, audit.actor_id) == ("member", order.member_id)
    session.expire_all()
    assert session.scalar(select(Member.points_balance).where(Member.external_id == "m-1")) == 9_000


def test_the_same_form_sent_twice_places_one_order(session, browser_of, api_a, shop):
    member = browser_of()
    launch(member, api_a)
    first, key = _buy(member, shop.id)
    again, _ = _buy(member, shop.id, key=key)
    assert first.headers["Location"] == again.headers["Location"]
    assert session.scalar(select(func.count()).select_from(Order)) == 1


def test_a_gold_member_pays_the_tier_price(session, browser_of, api_a, shop):
    member = browser_of()
    launch(member, api_a, "m-gold", create_member={"tier": "gold", "display_name": "金卡"})
    page = member.get(f"/m/partner-a/p/{shop.id}").get_data(as_text=True)
    assert 'data-testid="price">800' in page


def test_a_launch_link_works_once_within_a_minute_for_its_own_partner(
    session, browser_of, api_a, shop, partner_b
):
    issued = api_a.post("/api/v1/members/m-1/launch", json={}).get_json()
    path = issued["url"].split("://", 1)[1].split("/", 1)[1]
    assert browser_of().get("/" + path).status_code == 302
    used = browser_of().get("/" + path)
    assert used.status_code == 401 and "launch_refused" in used.get_data(as_text=True)
    other = api_a.post("/api/v1/members/m-1/launch", json={}).get_json()
    token = other["url"].split("token=")[1]
    assert browser_of().get(f"/m/partner-b/launch?token={token}").status_code == 401
    late = api_a.post("/api/v1/members/m-1/launch", json={}).get_json()
    row = session.scalars(select(LaunchToken).where(LaunchToken.used_at.is_(None))).all()
    for token_row in row:
        token_row.expires_at = token_row.created_at  # a minute went by
    session.commit()
    expired = late["url"].split("://", 1)[1].split("/", 1)[1]
    assert browser_of().get("/" + expired).status_code == 401


def test_launching_unknown_blocked_and_created_members(session, api_a, shop, partner_a):
    assert api_a.post("/api/v1/members/nobody/launch", json={}).status_code == 404
    created = api_a.post("/api/v1/members/new-1/launch", json={"create_member": {}})
    assert created.status_code == 201
    make_member(session, partner_a, "blocked-1", status="blocked")
    refused = api_a.post("/api/v1/members/blocked-1/launch", json={})
    assert refused.status_code == 403 and refused.get_json()["code"] == "member_blocked"


def test_nothing_of_another_member_or_partner_is_within_reach(
    app, session, browser_of, api_a, api_b, shop, partner_a, partner_b
):
    other = make_member(session, partner_a, "m-2", points=10_000)
    theirs = place(session, partner_a, other, shop)
    ent_id = theirs.entitlements[0].id
    member = browser_of()
    launch(member, api_a)
    page = member.get("/m/partner-a/").get_data(as_text=True)
    assert member.get(f"/m/partner-a/orders/{theirs.id}").status_code == 404
    stolen = member.post(
        f"/m/partner-a/entitlements/{ent_id}/reveal", data={"csrf_token": csrf_of(page)}
    )
    assert stolen.status_code == 404
    assert theirs.id not in member.get("/m/partner-a/me").get_data(as_text=True)
    # the session is partner A's: partner B's mall does not know it
    make_member(session, partner_b, "m-1", points=1)
    assert member.get("/m/partner-b/").status_code == 401
    assert member.get("/m/no-such-partner/").status_code == 404


def test_every_mall_page_needs_a_session(app, browser_of, shop):
    stranger = browser_of()
    public = {
        "mall.launch",
        "mall.theme",
        "mall.demo_launch",
        "mall.choose_language",
        "mall.static",
    }
    ids = {"listing_id": shop.id, "order_id": "ord_x", "entitlement_id": "ent_x"}
    checked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("mall.") or rule.endpoint in public:
            continue
        path = rule.rule.replace("<slug>", "partner-a")
        for name, value in ids.items():
            path = path.replace(f"<{name}>", value)
        method = "GET" if "GET" in rule.methods else "POST"
        answer = stranger.open(path, method=method)
        assert answer.status_code in (401, 400), (rule.rule, answer.status_code)  # 400: CSRF
        checked += 1
    assert checked >= 6


def test_the_demo_entrance_is_closed_in_production(app, browser_of, shop, monkeypatch):
    monkeypatch.setitem(app.config, "ENV_NAME", "production")
    assert browser_of().get("/m/partner-a/demo").status_code == 404


def test_a_member_reports_a_problem_with_a_delivered_code(session, browser_of, api_a, shop):
    from app.orders.models import Case

    member = browser_of()
    launch(member, api_a)
    bought, _ = _buy(member, shop.id)
    page = member.get(bought.headers["Location"]).get_data(as_text=True)
    order = session.scalars(select(Order)).one()
    sent = member.post(
        f"/m/partner-a/orders/{order.id}/report",
        data={
            "csrf_token": csrf_of(page),
            "delivery_id": order.deliveries[0].id,
            "kind": "code_not_working",
            "description": "提示卡密无效",
        },
    )
    assert sent.status_code == 302
    case = session.scalars(select(Case)).one()
    assert (case.opened_by, case.kind) == (f"member:{order.member_id}", "code_not_working")
    after = member.get(bought.headers["Location"]).get_data(as_text=True)
    assert 'data-testid="reported"' in after and 'data-testid="report"' not in after


def test_the_homes_categories_are_counted_once_a_minute_and_without_redis_too(
    app, session, browser_of, api_a, shop, partner_a
):
    import redis as redis_lib

    from app.core.queue import redis_connection
    from app.mall.service import catalog_categories

    cache = redis_connection(app)
    first = catalog_categories(session, cache, "test-", partner_a.id)
    assert first == [(shop.product.category, 1)]
    key = f"test-quanyi:mall:categories:{partner_a.id}"
    assert 0 < cache.ttl(key) <= 60

    class Down:
        def get(self, _key):  # noqa: ANN001, ANN202
            raise redis_lib.ConnectionError("down")

        def set(self, *_args, **_kwargs):  # noqa: ANN002, ANN003, ANN202
            raise redis_lib.ConnectionError("down")

    assert catalog_categories(session, Down(), "test-", partner_a.id) == first
    member = browser_of()
    launch(member, api_a)
    assert shop.product.category in member.get("/m/partner-a/").get_data(as_text=True)


def test_a_member_turns_notifications_off_and_its_language_follows_the_mall(
    session, browser_of, api_a, shop, partner_a
):
    from app.members.models import Member

    member = browser_of()
    launch(member, api_a)
    page = member.get("/m/partner-a/me").get_data(as_text=True)
    assert 'data-testid="notifications"' in page
    turned = member.post("/m/partner-a/me/notifications", data={"csrf_token": csrf_of(page)})
    assert turned.status_code == 302
    member.post(
        "/m/partner-a/language",
        data={"csrf_token": csrf_of(page), "locale": "en"},
        headers={"Referer": "http://localhost/m/partner-a/me"},
    )
    session.expire_all()
    m1 = session.scalars(select(Member).where(Member.external_id == "m-1")).one()
    assert (m1.notifications, m1.language) == (False, "en")
    assert api_a.get("/api/v1/members/m-1").get_json()["notifications"] is False
    forged = member.post("/m/partner-a/me/notifications", data={})
    assert forged.status_code in (400, 403)  # CSRF


def test_home_shows_the_partners_content_and_filters_by_delivery_and_price(
    session, browser_of, api_a, shop, partner_a
):
    from app.partners.service import update_partner
    from tests.factories import TEST_ACTOR, make_listing, make_product

    recharge = make_product(session, "直充会员", fulfillment_type="direct_recharge")
    make_listing(session, partner_a, recharge, points=3_000)
    branding = {
        **partner_a.branding,
        "announcement": "本周兑换双倍积分",
        "blocks": [{"title": "积分有效期", "body": "两年内有效"}],
    }
    mall_owner = session.get_one(type(partner_a), partner_a.id)  # partner_a is detached by now
    update_partner(session, TEST_ACTOR, mall_owner, {"branding": branding})
    session.commit()
    member = browser_of()
    launch(member, api_a)
    home = member.get("/m/partner-a/").get_data(as_text=True)
    assert "本周兑换双倍积分" in home and "两年内有效" in home
    assert "直充会员" in home and shop.product.name in home
    only_recharges = member.get("/m/partner-a/?type=direct_recharge").get_data(as_text=True)
    assert "直充会员" in only_recharges and shop.product.name not in only_recharges
    assert "两年内有效" not in only_recharges  # the partner's blocks are for browsing only
    dearest = member.get("/m/partner-a/?sort=price_desc").get_data(as_text=True)
    assert dearest.index("直充会员") < dearest.index(shop.product.name)
    cheapest = member.get("/m/partner-a/?sort=price_asc").get_data(as_text=True)
    assert cheapest.index(shop.product.name) < cheapest.index("直充会员")
    odd = member.get("/m/partner-a/?type=bogus&sort=drop+table")
    assert odd.status_code == 200 and "直充会员" in odd.get_data(as_text=True)


def test_every_mall_route_with_an_id_refuses_another_members_and_partners_things(
    app, session, browser_of, api_a, shop, partner_a, partner_b
):
    """The isolation walk: member m-1 of partner A, signed in, names the order, entitlement and
    payment of member m-2 (same partner) and partner B's listing, order and entitlement on
    every mall route that takes an id: each answers 404, and nothing of theirs changes. A new
    route with an id fails here until the walk knows what to name."""
    from app.mall.models import MallPayment
    from app.orders.models import Case

    other = make_member(session, partner_a, "m-2", points=10_000)
    theirs = place(session, partner_a, other, shop)
    payment = MallPayment(
        partner_id=partner_a.id, member_id=other.id, listing_id=shop.id, quantity=1,
        points=1, cash_minor=1, currency="CNY", checkout_key="k" * 20,
        expires_at=theirs.created_at,
    )  # fmt: skip
    session.add(payment)
    fund(session, partner_b)
    b_listing = sellable_card_key_listing(session, partner_b, codes=2, points=100)
    b_order = place(session, partner_b, make_member(session, partner_b, "m-1", points=1_000),
                    b_listing)  # fmt: skip
    session.commit()
    foreign = {
        "listing_id": [b_listing.id],
        "order_id": [theirs.id, b_order.id],
        "entitlement_id": [theirs.entitlements[0].id, b_order.entitlements[0].id],
    }
    member = browser_of()
    launch(member, api_a)
    page = member.get("/m/partner-a/me").get_data(as_text=True)
    walked = 0
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("mall.") or not set(rule.arguments) - {"slug"}:
            continue
        names = set(rule.arguments) - {"slug"}
        assert names <= set(foreign), f"{rule.rule}: add foreign ids for {names - set(foreign)}"
        for name in names:
            for value in foreign[name]:
                path = rule.rule.replace("<slug>", "partner-a").replace(f"<{name}>", value)
                method = "GET" if "GET" in rule.methods else "POST"
                data = {"csrf_token": csrf_of(page), "checkout_key": "x" * 20, "quantity": "1",
                        "delivery_id": "dlv_x", "kind": "other", "description": "walk"}  # fmt: skip
                answer = member.open(path, method=method, data=data if method == "POST" else None)
                assert answer.status_code == 404, (rule.rule, value, answer.status_code)
                walked += 1
    paid_back = member.get(f"/m/partner-a/pay/return?payment_id={payment.id}&status=paid")
    assert 400 <= paid_back.status_code < 500  # unsigned, not this member's: refused
    assert walked >= 6
    session.expire_all()
    assert session.get(MallPayment, payment.id).status == "pending"
    assert session.scalar(select(func.count()).select_from(Case)) == 0
    assert session.scalar(select(func.count()).select_from(Order)) == 2  # nothing bought


def test_a_partner_chooses_its_malls_typeface_and_home_layout(
    session, browser_of, api_a, shop, partner_a
):
    from app.partners.models import Partner
    from app.partners.service import update_partner
    from tests.factories import TEST_ACTOR

    owner = session.get_one(Partner, partner_a.id)
    branding = {**owner.branding, "font": "serif", "home_layout": "list"}
    update_partner(session, TEST_ACTOR, owner, {"branding": branding})
    session.commit()
    member = browser_of()
    launch(member, api_a)
    assert 'class="mall-grid mall-list"' in member.get("/m/partner-a/").get_data(as_text=True)
    assert "serif;" in member.get("/m/partner-a/theme.css").get_data(as_text=True)
    owner.branding = {**branding, "font": "sans", "home_layout": "grid"}
    session.commit()
    assert 'class="mall-grid"' in member.get("/m/partner-a/").get_data(as_text=True)


def test_a_claim_link_is_revealed_as_a_link_to_open(session, browser_of, api_a, shop, partner_a):
    from app.entitlements.models import Entitlement

    member = browser_of()
    launch(member, api_a)
    bought, _key = _buy(member, shop.id)
    held = session.scalars(select(Entitlement)).one()
    held.snapshot = {**held.snapshot, "fulfillment_type": "link"}  # as a link product's is
    session.commit()
    page = member.get(bought.headers["Location"]).get_data(as_text=True)
    assert "查看链接" in page
    revealed = member.post(
        f"/m/partner-a/entitlements/{held.id}/reveal", data={"csrf_token": csrf_of(page)}
    ).get_data(as_text=True)
    assert 'data-testid="open-link"' in revealed and 'rel="noopener noreferrer"' in revealed
    assert 'data-testid="code"' not in revealed
