"""An independent implementation of Agora's payment encodings, written from docs/protocol.md alone, checked
against the vectors the Swift code generates (docs/vectors/payment.json).

Usage: python3 vectors_check.py docs/vectors/payment.json
Prints one line per checked object and exits non-zero on the first disagreement. Standard library plus
`cryptography` (Ed25519) only.
"""
import base64
import hashlib
import json
import struct
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey


def tagged(tag: str, data: bytes) -> bytes:
    return hashlib.sha256(tag.encode() + b"\x00" + data).digest()


def string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack(">I", len(raw)) + raw


def address(key: bytes) -> str:
    return "agr1" + base64.b32encode(key + tagged("agora-address-v1", key)[:4]).decode().lower().rstrip("=")


def address_key(text: str) -> bytes:
    if not text.startswith("agr1") or len(text) != 62:
        raise ValueError(f"not an address: {text}")
    raw = base64.b32decode(text[4:].upper() + "======")
    key, checksum = raw[:32], raw[32:]
    if checksum != tagged("agora-address-v1", key)[:4] or address(key) != "agr1" + text[4:].lower():
        raise ValueError(f"bad checksum or padding: {text}")
    return key


def f32(value: float) -> bytes:
    return struct.pack(">f", value)


def canonical_request(body: dict, chat: bool, derived_seed: int, default_max_tokens: int = 128) -> bytes:
    """§4.2 and §4.3: normalization, then the byte layout."""
    if chat:
        out = b"\x01" + struct.pack(">I", len(body["messages"]))
        for message in body["messages"]:
            out += string(message["role"]) + string(message["content"])
        max_tokens = body.get("max_completion_tokens")
        if max_tokens is None:
            max_tokens = body.get("max_tokens")
    else:
        out = b"\x02" + string(body["prompt"])
        max_tokens = body.get("max_tokens")
    if max_tokens is None:
        max_tokens = default_max_tokens
    temperature = body.get("temperature")
    temperature = 1.0 if temperature is None else float(temperature)
    top_p = body.get("top_p")
    top_p = 1.0 if top_p is None else float(top_p)
    top_k = body.get("top_k") or 0
    seed = body.get("seed")
    seed = derived_seed if seed is None else seed
    stop = body.get("stop")
    stop = [] if stop is None else [stop] if isinstance(stop, str) else stop
    out += struct.pack(">I", max_tokens) + f32(temperature) + f32(top_p)
    out += struct.pack(">I", top_k) + struct.pack(">Q", seed) + struct.pack(">I", len(stop))
    for sequence in stop:
        out += string(sequence)
    return out


def voucher_signing_bytes(v: dict) -> bytes:
    """§5.2."""
    return (
        b"agora-voucher-v1" + string(v["chainID"]) + address_key(v["payer"]) + address_key(v["payee"])
        + bytes.fromhex(v["jobID"]) + bytes.fromhex(v["modelHash"]) + bytes.fromhex(v["inputHash"])
        + struct.pack(">Q", v["maxAmount"]) + struct.pack(">Q", v["expiry"])
    )


def receipt_signing_bytes(r: dict) -> bytes:
    """§8.2."""
    return (
        b"agora-receipt-v1" + string(r["chainID"]) + bytes.fromhex(r["jobID"]) + address_key(r["node"])
        + address_key(r["payer"]) + bytes.fromhex(r["modelHash"]) + bytes.fromhex(r["inputHash"])
        + bytes.fromhex(r["outputHash"]) + struct.pack(">I", r["inputTokens"]) + struct.pack(">I", r["outputTokens"])
        + struct.pack(">Q", r["amount"]) + struct.pack(">Q", r["seed"]) + string(r["engineVersion"])
        + struct.pack(">Q", r["timestamp"])
    )


def check(condition: bool, what: str) -> None:
    if not condition:
        print(f"MISMATCH: {what}")
        sys.exit(1)


def main(path: str) -> None:
    with open(path, encoding="utf-8") as handle:
        vectors = json.load(handle)
    check(vectors["version"] == 1, "version")

    keys = {}
    for key in vectors["keys"]:
        secret = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(key["seed"]))
        public = secret.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        check(public.hex() == key["publicKey"], f"public key of {key['label']}")
        check(address(public) == key["address"], f"address of {key['label']}")
        check(address_key(key["address"]) == public, f"address parsing of {key['label']}")
        keys[key["address"]] = secret
        print(f"key {key['label']}: public key and address agree")

    for request in vectors["requests"]:
        job_id = bytes.fromhex(request["jobId"])
        derived = int.from_bytes(job_id[:8], "big")
        check(derived == request["derivedSeed"], f"derived seed of {request['name']}")
        body = json.loads(request["body"])
        canonical = canonical_request(body, request["endpoint"] == "/v1/chat/completions", derived)
        check(canonical.hex() == request["canonicalRequest"], f"canonical request of {request['name']}")
        digest = tagged("agora-request-v1", bytes.fromhex(request["modelHash"]) + canonical)
        check(digest.hex() == request["inputHash"], f"input hash of {request['name']}")
        print(f"request '{request['name']}': canonical bytes and input hash agree")

    for signed, signing_bytes, signer_field in [
        (vectors["vouchers"], voucher_signing_bytes, "payer"),
        (vectors["receipts"], receipt_signing_bytes, "node"),
    ]:
        for entry in signed:
            obj = json.loads(entry["json"])
            message = signing_bytes(obj)
            check(message.hex() == entry["signingBytes"], f"signing bytes of {entry['name']}")
            check(obj["signature"] == entry["signature"], f"signature field of {entry['name']}")
            public = Ed25519PublicKey.from_public_bytes(address_key(obj[signer_field]))
            public.verify(bytes.fromhex(entry["signature"]), message)  # raises on a bad signature
            secret = keys[obj[signer_field]]
            check(secret.sign(message).hex() == entry["signature"], f"deterministic signature of {entry['name']}")
            print(f"{entry['name']}: signing bytes and signature agree")

    voucher = json.loads(vectors["vouchers"][0]["json"])
    receipt = json.loads(vectors["receipts"][0]["json"])
    check(receipt["amount"] <= voucher["maxAmount"], "receipt amount within the voucher")
    check(receipt["outputHash"] == vectors["outputs"][0]["outputHash"], "receipt names the first output")

    for output in vectors["outputs"]:
        check(tagged("agora-output-v1", output["text"].encode("utf-8")).hex() == output["outputHash"],
              f"output hash of {output['text']!r}")
    print(f"{len(vectors['outputs'])} output hashes agree")

    for price in vectors["prices"]:
        cost = price["perInputToken"] * price["inputTokens"] + price["perOutputToken"] * price["outputTokens"]
        check(cost == price["cost"], f"price {price}")
    print(f"{len(vectors['prices'])} prices agree")
    print("OK: every vector agrees with this independent implementation")


if __name__ == "__main__":
    main(sys.argv[1])
