"""An Agora key: an Ed25519 seed, its address, and the key file of docs/protocol.md §10."""
from __future__ import annotations

import json
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .encoding import address, address_key


class KeyFileError(ValueError):
    """A key file that is not what §10 describes."""


class Wallet:
    """Signs vouchers for the payer it names."""

    def __init__(self, seed: bytes):
        if len(seed) != 32:
            raise KeyFileError("an Ed25519 seed is 32 bytes")
        self._key = Ed25519PrivateKey.from_private_bytes(seed)
        self.public_key = self._key.public_key().public_bytes_raw()
        self.address = address(self.public_key)

    @classmethod
    def generate(cls) -> "Wallet":
        return cls(os.urandom(32))

    @classmethod
    def load(cls, path: str) -> "Wallet":
        """Reads a key file written by `agora keygen` (or `save`), refusing one that does not check out."""
        with open(os.path.expanduser(path), encoding="utf-8") as handle:
            try:
                document = json.load(handle)
            except json.JSONDecodeError as error:
                raise KeyFileError(f"{path}: not JSON") from error
        if not isinstance(document, dict) or document.get("type") != "ed25519":
            raise KeyFileError(f"{path}: type must be 'ed25519'")
        try:
            seed = bytes.fromhex(document.get("seed", ""))
        except ValueError as error:
            raise KeyFileError(f"{path}: seed is not hex") from error
        wallet = cls(seed)
        if document.get("address") != wallet.address:
            raise KeyFileError(f"{path}: the address is not the seed's")
        return wallet

    def save(self, path: str) -> None:
        """Writes the key file with mode 0600, never over an existing file."""
        text = json.dumps(
            {"address": self.address, "seed": self._seed_hex(), "type": "ed25519"}, indent=2, sort_keys=True)
        descriptor = os.open(os.path.expanduser(path), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text + "\n")

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def _seed_hex(self) -> str:
        from cryptography.hazmat.primitives import serialization

        return self._key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()).hex()


def verify_signature(signer_address: str, signature_hex: str, message: bytes) -> bool:
    """Ed25519-Verify with the key an address names."""
    try:
        Ed25519PublicKey.from_public_bytes(address_key(signer_address)).verify(bytes.fromhex(signature_hex), message)
        return True
    except Exception:  # noqa: BLE001 - any failure (bad hex, bad key, bad signature) is "does not verify"
        return False
