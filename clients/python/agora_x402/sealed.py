"""Sealed (HPKE) bodies, docs/protocol.md §9: RFC 9180 base mode with DHKEM(X25519, HKDF-SHA256),
HKDF-SHA256 and ChaCha20-Poly1305, built from `cryptography`'s primitives (it has no HPKE of its own)."""
from __future__ import annotations

import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

INFO = b"agora-hpke-request-v1"
RESPONSE_CONTEXT = b"agora-hpke-response-v1"
_KEM_SUITE = b"KEM" + struct.pack(">H", 0x0020)
_HPKE_SUITE = b"HPKE" + struct.pack(">HHH", 0x0020, 0x0001, 0x0003)


def _extract(salt: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt or bytes(32), ikm, hashlib.sha256).digest()


def _expand(prk: bytes, info: bytes, length: int) -> bytes:
    out, block, counter = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + info + bytes([counter]), hashlib.sha256).digest()
        out += block
        counter += 1
    return out[:length]


def _labeled_extract(suite: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return _extract(salt, b"HPKE-v1" + suite + label + ikm)


def _labeled_expand(suite: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    return _expand(prk, struct.pack(">H", length) + b"HPKE-v1" + suite + label + info, length)


def _raw(key) -> bytes:
    return key.public_bytes_raw()


def _context(shared: bytes, info: bytes) -> tuple[bytes, bytes, bytes]:
    """The base-mode key schedule: (key, base nonce, exporter secret)."""
    psk_id_hash = _labeled_extract(_HPKE_SUITE, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE, b"", b"info_hash", info)
    context = b"\x00" + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_SUITE, shared, b"secret", b"")
    return (
        _labeled_expand(_HPKE_SUITE, secret, b"key", context, 32),
        _labeled_expand(_HPKE_SUITE, secret, b"base_nonce", context, 12),
        _labeled_expand(_HPKE_SUITE, secret, b"exp", context, 32),
    )


def _shared_secret(dh: bytes, enc: bytes, recipient_public: bytes) -> bytes:
    prk = _labeled_extract(_KEM_SUITE, b"", b"eae_prk", dh)
    return _labeled_expand(_KEM_SUITE, prk, b"shared_secret", enc + recipient_public, 32)


def node_hpke_key(node_seed: bytes) -> X25519PrivateKey:
    """The node's X25519 key, derived from its Ed25519 seed (HKDF-SHA256, no salt)."""
    return X25519PrivateKey.from_private_bytes(_expand(_extract(b"", node_seed), b"agora-hpke-node-key-v1", 32))


def seal_request(body: bytes, node_public_key: bytes) -> tuple[bytes, bytes, bytes]:
    """Client side: (sealed body, encapsulated key for `Agora-HPKE-Enc`, the key the answer is sealed with)."""
    ephemeral = X25519PrivateKey.from_private_bytes(os.urandom(32))
    recipient = X25519PublicKey.from_public_bytes(node_public_key)
    enc = _raw(ephemeral.public_key())
    key, nonce, exporter = _context(_shared_secret(ephemeral.exchange(recipient), enc, node_public_key), INFO)
    sealed = ChaCha20Poly1305(key).encrypt(nonce, body, b"")
    return sealed, enc, _labeled_expand(_HPKE_SUITE, exporter, b"sec", RESPONSE_CONTEXT, 32)


def open_request(sealed: bytes, enc: bytes, node_key: X25519PrivateKey) -> tuple[bytes, bytes]:
    """Node side: (the request's plaintext, the key to seal the answer with)."""
    recipient_public = _raw(node_key.public_key())
    dh = node_key.exchange(X25519PublicKey.from_public_bytes(enc))
    key, nonce, exporter = _context(_shared_secret(dh, enc, recipient_public), INFO)
    plaintext = ChaCha20Poly1305(key).decrypt(nonce, sealed, b"")
    return plaintext, _labeled_expand(_HPKE_SUITE, exporter, b"sec", RESPONSE_CONTEXT, 32)


def seal_response(body: bytes, response_key: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + ChaCha20Poly1305(response_key).encrypt(nonce, body, b"")


def open_response(sealed: bytes, response_key: bytes) -> bytes:
    """nonce (12) ‖ ciphertext ‖ tag (16), under the exported key."""
    return ChaCha20Poly1305(response_key).decrypt(sealed[:12], sealed[12:], b"")
