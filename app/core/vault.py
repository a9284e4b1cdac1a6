"""The vault: AES-256-GCM encryption of card codes and supplier credentials, and HMAC-SHA256
fingerprints for uniqueness checks without decrypting.

Keys come from `QUANYI_VAULT_KEYS` as `id:base64key,…`, the first one current. Every
ciphertext records the id of the key that sealed it, so `rotate` can re-seal rows one batch at
a time while the service runs; once nothing refers to an old id, that key can be removed.
The associated data binds a ciphertext to its row and field: a sealed value copied into
another row does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import Flask, current_app

NONCE_BYTES = 12


class VaultError(RuntimeError):
    """A key is missing or a ciphertext does not open: never a user error."""


@dataclass(frozen=True)
class Sealed:
    key_id: str
    blob: bytes


def parse_keys(spec: str) -> list[tuple[str, bytes]]:
    keys: list[tuple[str, bytes]] = []
    for part in filter(None, (p.strip() for p in spec.split(","))):
        key_id, _, encoded = part.partition(":")
        try:
            raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        except (binascii.Error, ValueError):
            raise VaultError(f"vault key {key_id!r} is not base64") from None
        if not key_id or len(raw) != 32:
            raise VaultError(f"vault key {key_id!r} must be 32 bytes (AES-256)")
        keys.append((key_id, raw))
    if not keys:
        raise VaultError("no vault key configured (QUANYI_VAULT_KEYS)")
    return keys


class Vault:
    def __init__(self, keys: list[tuple[str, bytes]], fingerprint_key: bytes) -> None:
        self.current_key_id = keys[0][0]
        self._ciphers = {key_id: AESGCM(raw) for key_id, raw in keys}
        self._fingerprint_key = fingerprint_key

    @property
    def key_ids(self) -> list[str]:
        return list(self._ciphers)

    def seal(self, plaintext: str, context: str) -> Sealed:
        nonce = os.urandom(NONCE_BYTES)
        cipher = self._ciphers[self.current_key_id]
        blob = nonce + cipher.encrypt(nonce, plaintext.encode(), context.encode())
        return Sealed(self.current_key_id, blob)

    def open(self, key_id: str, blob: bytes, context: str) -> str:
        cipher = self._ciphers.get(key_id)
        if cipher is None:
            raise VaultError(f"vault key {key_id!r} is not configured")
        try:
            plain = cipher.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], context.encode())
        except InvalidTag:
            raise VaultError("ciphertext does not open with its key and context") from None
        return plain.decode()

    def fingerprint(self, value: str) -> str:
        """Stable across key rotation (its key is separate), so uniqueness survives rotation."""
        normalized = value.strip().upper()
        return hmac.new(self._fingerprint_key, normalized.encode(), hashlib.sha256).hexdigest()


def vault_from_config(app: Flask) -> Vault:
    keys = parse_keys(app.config["VAULT_KEYS"])
    fingerprint_key = hashlib.sha256(
        b"quanyi-fingerprint:" + app.config["VAULT_FINGERPRINT_KEY"].encode()
    ).digest()
    return Vault(keys, fingerprint_key)


def current_vault() -> Vault:
    vault = current_app.extensions.get("quanyi_vault")
    if vault is None:
        vault = current_app.extensions["quanyi_vault"] = vault_from_config(current_app)
    return vault


def mask(value: str, visible: int = 4) -> str:
    """`****-****-7K2Q`: enough to recognise a code, never enough to use it."""
    return "****-****-" + value[-visible:] if len(value) > visible else "****"
