"""Vault: AES-GCM sealing bound to its row, and key rotation beside live data."""

from __future__ import annotations

import base64
import os

import pytest
from sqlalchemy import select

from app.auth.models import StaffUser
from app.core.vault import Vault, VaultError, parse_keys, vault_from_config
from app.members.models import Member
from app.members.service import member_phone
from app.supply import imports
from app.supply.models import Code, Supplier
from tests.admin.conftest import make_staff
from tests.factories import make_member, make_partner, make_product, make_supplier, stock_codes


def _key() -> str:
    return base64.urlsafe_b64encode(os.urandom(32)).decode()


def test_rotate_key_command_reseals_everything_and_the_old_key_can_go(app, session, monkeypatch):
    product = make_product(session)
    stock_codes(session, product, 7, password="PIN-7788")
    make_supplier(session, "Sealed Supplier", credentials={"secret": "s3cr3t-value"})
    partner = make_partner(session, "vault-partner")
    member = make_member(session, partner, "v1", phone="13912345678")
    owner = make_staff(session, partner.id, "owner")  # its TOTP secret is sealed too
    old_spec = app.config["VAULT_KEYS"]
    old_vault = vault_from_config(app)
    plain_before = {c.id: imports.reveal_code(old_vault, c) for c in session.scalars(select(Code))}

    new_spec = f"k-new:{_key()}"
    monkeypatch.setitem(app.config, "VAULT_KEYS", f"{new_spec},{old_spec}")
    monkeypatch.delitem(app.extensions, "quanyi_vault", raising=False)
    result = app.test_cli_runner().invoke(args=["vault", "rotate-key", "--batch-size", "3"])
    assert result.exit_code == 0, result.output
    # 7 codes, 2 suppliers' credentials (the product's own supplier's too), a phone, a TOTP
    assert "keys in use: {'k-new': 11}" in result.output

    monkeypatch.setitem(app.config, "VAULT_KEYS", new_spec)  # the old key removed
    new_only = vault_from_config(app)
    session.expire_all()
    codes = session.scalars(select(Code)).all()
    assert {c.key_id for c in codes} == {"k-new"}
    assert {c.id: imports.reveal_code(new_only, c) for c in codes} == plain_before
    supplier = session.scalars(select(Supplier).where(Supplier.name == "Sealed Supplier")).one()
    from app.supply.suppliers import supplier_credentials

    assert supplier_credentials(new_only, supplier) == {"secret": "s3cr3t-value"}
    assert member_phone(new_only, session.get_one(Member, member.id)) == "13912345678"
    staff = session.get_one(StaffUser, owner.id)
    secret = new_only.open(staff.totp_key_id, staff.totp_blob, "staff-totp:" + staff.id)
    assert secret == owner.totp_secret
    app.extensions.pop("quanyi_vault", None)


def test_sealed_value_does_not_open_in_another_row(session):
    vault = Vault(parse_keys(f"a:{_key()}"), b"f" * 32)
    sealed = vault.seal("CODE-1", "code:cod_1:code")
    assert vault.open(sealed.key_id, sealed.blob, "code:cod_1:code") == "CODE-1"
    with pytest.raises(VaultError):
        vault.open(sealed.key_id, sealed.blob, "code:cod_2:code")


def test_unknown_key_id_is_a_vault_error():
    vault = Vault(parse_keys(f"a:{_key()}"), b"f" * 32)
    with pytest.raises(VaultError):
        vault.open("gone", b"x" * 40, "ctx")


@pytest.mark.parametrize("spec", ["", "k1:short", "nokey"])
def test_bad_key_specs_are_refused(spec):
    with pytest.raises(VaultError):
        parse_keys(spec)


def test_supplier_credentials_are_never_returned(platform, session):
    response = platform.post(
        "/api/v1/platform/suppliers",
        json={"name": "Api Supplier", "credentials": {"secret": "do-not-show-1"}},
    )
    assert response.status_code == 201
    assert "do-not-show-1" not in response.get_data(as_text=True)
    assert response.get_json()["has_credentials"] is True
