"""`flask partners sync`: declarative partners, idempotent, never deleting, strict on errors."""

from __future__ import annotations

import shutil

import pytest
from sqlalchemy import func, select

from app.partners.models import Listing, Partner
from app.supply.demo import seed_supply
from app.supply.suppliers import platform_today
from tests.factories import TEST_ACTOR, vault_for_tests


def _sync(app, root):
    return app.test_cli_runner().invoke(args=["partners", "sync", str(root)])


@pytest.fixture(autouse=True)
def supply(session):
    """The demo listings name products of the demo supply."""
    seed_supply(session, TEST_ACTOR, vault_for_tests(), platform_today(), "http://sim.invalid")
    session.commit()


def _count(session) -> int:
    return session.scalar(select(func.count()).select_from(Partner))


def test_demo_partners_load_and_a_second_sync_changes_nothing(app, session, repo_root):
    first = _sync(app, repo_root / "partners")
    assert first.exit_code == 0, first.output
    assert first.output.count("created ") == 4
    kinds = set(session.scalars(select(Partner.kind)))
    assert kinds == {"bank", "airline", "carrier", "employer"}
    colours = {p.branding["primary_color"] for p in session.scalars(select(Partner))}
    assert len(colours) == 4  # each branded differently
    per_partner = dict(
        session.execute(select(Listing.partner_id, func.count()).group_by(Listing.partner_id)).all()
    )
    assert len(per_partner) == 4 and min(per_partner.values()) >= 10
    second = _sync(app, repo_root / "partners")
    assert second.exit_code == 0
    assert second.output.count("unchanged ") == 4
    assert "created" not in second.output and "updated" not in second.output


def test_changed_file_reports_the_changed_fields(app, session, repo_root, tmp_path):
    root = tmp_path / "partners"
    shutil.copytree(repo_root / "partners", root)
    _sync(app, root)
    path = root / "telelink" / "partner.yaml"
    path.write_text(path.read_text().replace("#00875A", "#123456"), encoding="utf-8")
    result = _sync(app, root)
    assert "updated telelink: branding" in result.output
    partner = session.scalars(select(Partner).where(Partner.slug == "telelink")).one()
    session.refresh(partner)
    assert partner.branding["primary_color"] == "#123456"


def test_invalid_file_is_named_with_its_field_and_writes_nothing(app, session, repo_root, tmp_path):
    root = tmp_path / "partners"
    shutil.copytree(repo_root / "partners", root)
    bad = root / "skyway-air" / "partner.yaml"
    bad.write_text(bad.read_text().replace("kind: airline", "kind: spaceline"), encoding="utf-8")
    before = _count(session)
    result = _sync(app, root)
    assert result.exit_code != 0
    assert "skyway-air/partner.yaml" in result.output
    assert "field 'kind'" in result.output
    assert _count(session) == before + 3  # the three valid files still apply
    assert session.scalar(select(Partner).where(Partner.slug == "skyway-air")) is None


def test_slug_must_match_its_folder(app, session, tmp_path):
    folder = tmp_path / "partners" / "right-name"
    folder.mkdir(parents=True)
    (folder / "partner.yaml").write_text(
        "slug: wrong-name\nname: X\nkind: bank\n"
        "branding: {display_name: X, primary_color: '#000000', accent_color: '#ffffff'}\n"
        "points: {unit_name: pts, rate: {points: 1, value: {amount: 1}}}\n",
        encoding="utf-8",
    )
    result = _sync(app, tmp_path / "partners")
    assert result.exit_code != 0
    assert "field 'slug'" in result.output


def test_broken_yaml_is_reported_not_raised(app, tmp_path):
    folder = tmp_path / "partners" / "broken"
    folder.mkdir(parents=True)
    (folder / "partner.yaml").write_text("slug: [unclosed\n", encoding="utf-8")
    result = _sync(app, tmp_path / "partners")
    assert result.exit_code == 1
    assert "broken/partner.yaml: not valid YAML" in result.output


def test_listing_of_unknown_product_rejects_the_whole_file(app, session, repo_root, tmp_path):
    root = tmp_path / "partners"
    shutil.copytree(repo_root / "partners", root)
    path = root / "northstar" / "partner.yaml"
    path.write_text(
        path.read_text().replace("name: Keep会员月卡", "name: 不存在的产品"), encoding="utf-8"
    )
    result = _sync(app, root)
    assert result.exit_code == 1
    assert "northstar/partner.yaml: field 'listings." in result.output
    assert "不存在的产品" in result.output
    assert session.scalar(select(Partner).where(Partner.slug == "northstar")) is None
    assert session.scalar(select(Partner).where(Partner.slug == "telelink")) is not None


def test_changed_listing_price_is_updated(app, session, repo_root, tmp_path):
    root = tmp_path / "partners"
    shutil.copytree(repo_root / "partners", root)
    _sync(app, root)
    path = root / "jinhai-bank" / "partner.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("points: 2500\n", "points: 2400\n", 1), encoding="utf-8")
    result = _sync(app, root)
    assert "updated jinhai-bank: listing 优酷VIP月卡 updated" in result.output


def test_demo_seed_twice_changes_nothing(app, session):
    from app.supply.models import Code, Product

    def counts() -> tuple[int, ...]:
        return tuple(
            session.scalar(select(func.count()).select_from(model))
            for model in (Partner, Listing, Product, Code)
        )

    first = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    after_first = counts()
    second = app.test_cli_runner().invoke(args=["demo", "seed"])
    assert second.exit_code == 0
    assert counts() == after_first
    assert "0 products created" in second.output
    products = session.scalars(select(Product)).all()
    assert len(products) >= 20 and len({p.brand for p in products}) >= 6
    assert {p.fulfillment_type for p in products} == {"card_key", "direct_recharge", "link"}
    assert sum(p.is_bundle for p in products) >= 2
