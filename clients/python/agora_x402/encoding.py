"""Agora's payment encodings (docs/protocol.md §2, §4, §5, §8), written from the spec.

Every function here is checked against docs/vectors/payment.json by tests/test_vectors.py.
"""
from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any, Mapping

U32_MAX = 2**32 - 1
U64_MAX = 2**64 - 1


def tagged(tag: str, data: bytes) -> bytes:
    """§2.2: SHA-256(tag ‖ 0x00 ‖ data)."""
    return hashlib.sha256(tag.encode() + b"\x00" + data).digest()


def string(text: str) -> bytes:
    """§2.1: u32 big-endian length ‖ UTF-8 bytes."""
    raw = text.encode("utf-8")
    return struct.pack(">I", len(raw)) + raw


def u32(value: int) -> bytes:
    return struct.pack(">I", value)


def u64(value: int) -> bytes:
    return struct.pack(">Q", value)


def address(public_key: bytes) -> str:
    """§2.4: "agr1" ‖ lowercase unpadded base32(key ‖ 4-byte checksum)."""
    if len(public_key) != 32:
        raise ValueError("a public key is 32 bytes")
    body = base64.b32encode(public_key + tagged("agora-address-v1", public_key)[:4]).decode()
    return "agr1" + body.lower().rstrip("=")


def address_key(text: str) -> bytes:
    """The public key an address names; refuses a bad prefix, length or checksum."""
    if not isinstance(text, str) or not text.startswith("agr1") or len(text) != 62:
        raise ValueError(f"not an Agora address: {text!r}")
    try:
        raw = base64.b32decode(text[4:].upper() + "======")
    except ValueError as error:
        raise ValueError(f"not an Agora address: {text!r}") from error
    key = raw[:32]
    if address(key) != "agr1" + text[4:].lower():
        raise ValueError(f"bad address checksum: {text!r}")
    return key


def f32(value: float) -> bytes:
    """§4.2: the IEEE 754 single-precision bit pattern (round to nearest, ties to even)."""
    return struct.pack(">f", float(value))


def derived_seed(job_id: bytes) -> int:
    """§4.4: the first 8 bytes of the job id, big-endian."""
    return int.from_bytes(job_id[:8], "big")


def canonical_request(body: Mapping[str, Any], chat: bool, seed: int, default_max_tokens: int) -> bytes:
    """§4.2–4.3: the normalized request as the node hashes it.

    `seed` is the seed the job uses (the request's own, or the one derived from the job id);
    `default_max_tokens` is what the node fills in when the request names none (the terms'
    `maxOutputTokens`).
    """
    if chat:
        messages = body["messages"]
        out = b"\x01" + u32(len(messages))
        for message in messages:
            content = message["content"]
            if isinstance(content, list):
                # §4.1: an array of text parts is the same message as its texts joined with "\n".
                if not all(isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
                           for part in content):
                    raise ValueError("only text content parts are supported")
                content = "\n".join(part["text"] for part in content)
            if not isinstance(content, str):
                raise ValueError("message content must be a string or an array of text parts")
            out += string(message["role"]) + string(content)
        max_tokens = body.get("max_completion_tokens")
        if max_tokens is None:
            max_tokens = body.get("max_tokens")
    else:
        prompt = body["prompt"]
        if not isinstance(prompt, str):
            raise ValueError("prompt must be a string")
        out = b"\x02" + string(prompt)
        max_tokens = body.get("max_tokens")
    if max_tokens is None:
        max_tokens = default_max_tokens
    temperature = body.get("temperature")
    temperature = 1.0 if temperature is None else temperature
    top_p = body.get("top_p")
    top_p = 1.0 if top_p is None else top_p
    top_k = body.get("top_k")
    top_k = 0 if top_k is None else top_k
    stop = body.get("stop")
    stop = [] if stop is None else [stop] if isinstance(stop, str) else list(stop)
    out += u32(max_tokens) + f32(temperature) + f32(top_p) + u32(top_k) + u64(seed) + u32(len(stop))
    for sequence in stop:
        out += string(sequence)
    return out


def input_hash(model_hash: bytes, canonical: bytes) -> bytes:
    """§4.3: tagged("agora-request-v1", modelHash ‖ canonical request)."""
    return tagged("agora-request-v1", model_hash + canonical)


def voucher_signing_bytes(voucher: Mapping[str, Any]) -> bytes:
    """§5.2."""
    return (
        b"agora-voucher-v1" + string(voucher["chainId"]) + address_key(voucher["payer"])
        + address_key(voucher["payee"]) + bytes.fromhex(voucher["jobId"]) + bytes.fromhex(voucher["modelHash"])
        + bytes.fromhex(voucher["inputHash"]) + u64(voucher["maxAmount"]) + u64(voucher["expiry"])
    )


def receipt_signing_bytes(receipt: Mapping[str, Any]) -> bytes:
    """§8.2."""
    return (
        b"agora-receipt-v1" + string(receipt["chainId"]) + bytes.fromhex(receipt["jobId"])
        + address_key(receipt["node"]) + address_key(receipt["payer"]) + bytes.fromhex(receipt["modelHash"])
        + bytes.fromhex(receipt["inputHash"]) + bytes.fromhex(receipt["outputHash"]) + u32(receipt["inputTokens"])
        + u32(receipt["outputTokens"]) + u64(receipt["amount"]) + u64(receipt["seed"])
        + string(receipt["engineVersion"]) + u64(receipt["timestamp"])
    )


def output_hash(text: str) -> bytes:
    """§8.3: tagged("agora-output-v1", UTF-8 text)."""
    return tagged("agora-output-v1", text.encode("utf-8"))


def cost(price_in: int, price_out: int, input_tokens: int, output_tokens: int) -> int | None:
    """§3.5: the price of a job in µ, or None when it overflows u64."""
    total = price_in * input_tokens + price_out * output_tokens
    return total if total <= U64_MAX else None
