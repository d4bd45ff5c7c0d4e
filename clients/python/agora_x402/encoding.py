"""Agora's payment encodings (docs/protocol.md §2, §4, §5, §8), written from the spec.

Every function here is checked against docs/vectors/payment.json by tests/test_vectors.py.
"""
from __future__ import annotations

import base64
import hashlib
import json
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
    `default_max_tokens` is what the node fills in per choice when the request names none (the terms'
    `maxOutputTokens` divided by `n`).
    """
    if chat:
        messages = body["messages"]
        with_tools = any(m.get("tool_calls") is not None or m.get("tool_call_id") is not None for m in messages)
        out = (b"\x03" if with_tools else b"\x01") + u32(len(messages))
        for message in messages:
            content = message.get("content")
            if content is None and message.get("tool_calls") is not None:
                content = ""  # an assistant turn that only calls tools
            if isinstance(content, list):
                # §4.1: an array of text parts is the same message as its texts joined with "\n".
                if not all(isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
                           for part in content):
                    raise ValueError("only text content parts are supported")
                content = "\n".join(part["text"] for part in content)
            if not isinstance(content, str):
                raise ValueError("message content must be a string or an array of text parts")
            out += string(message["role"]) + string(content)
            if with_tools:
                # §4.3 kind 3: the call a result answers, and the calls an assistant turn made.
                calls = message.get("tool_calls") or []
                out += string(message.get("tool_call_id") or "") + u32(len(calls))
                for call in calls:
                    out += string(call["id"]) + string(call["function"]["name"]) + string(call["function"]["arguments"])
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
    return out + request_options(body, chat)


def canonical_embeddings_request(body: Mapping[str, Any]) -> bytes:
    """§4.3 kind 4: a `/v1/embeddings` request as the node hashes it (every generation field neutral)."""
    value = body["input"]
    if isinstance(value, str) or (isinstance(value, list) and value and all(isinstance(v, int) for v in value)):
        value = [value]
    out = b"\x04" + u32(len(value))
    for item in value:
        if isinstance(item, str):
            out += b"\x01" + string(item)
        else:
            out += b"\x02" + u32(len(item)) + b"".join(u32(token) for token in item)
    return out + u32(0) + f32(0.0) + f32(1.0) + u32(0) + u64(0) + u32(0)


def _nonzero_f32(value: Any, neutral: float) -> bytes | None:
    """A float option's bit pattern, or None at its neutral value (-0 counts as 0)."""
    if value is None:
        return None
    packed = f32(value)
    return None if struct.unpack(">f", packed)[0] == neutral else packed


def request_options(body: Mapping[str, Any], chat: bool) -> bytes:
    """§4.3 fields 10+: each optional control away from its neutral value, as tag ‖ value, tags increasing."""
    out = b""
    n = body.get("n")
    if n is not None and n > 1:
        out += b"\x01" + u32(n)
    if chat:
        top = (body.get("top_logprobs") or 0) if body.get("logprobs") is True else None
    else:
        top = body.get("logprobs")
    if top is not None:
        out += b"\x02" + u32(top)
    for tag, key, neutral in [(3, "min_p", 0.0), (4, "repetition_penalty", 1.0), (5, "presence_penalty", 0.0),
                              (6, "frequency_penalty", 0.0)]:
        packed = _nonzero_f32(body.get(key), neutral)
        if packed is not None:
            out += bytes([tag]) + packed
    bias = sorted((int(token), f32(value)) for token, value in (body.get("logit_bias") or {}).items()
                  if struct.unpack(">f", f32(value))[0] != 0)
    if bias:
        out += b"\x07" + u32(len(bias)) + b"".join(u32(token) + value for token, value in bias)
    out += response_format_option(body.get("response_format") if chat else None)
    out += tools_option(body if chat else {})
    return out


def tools_option(body: Mapping[str, Any]) -> bytes:
    """§4.3 option 9: the tools (name, description, parameters as canonical JSON, strict), tool_choice
    (0 auto, 1 none, 2 required, 3 + name) and parallel_tool_calls."""
    tools = body.get("tools")
    if not tools:
        return b""
    out = b"\x09" + u32(len(tools))
    for tool in tools:
        function = tool["function"]
        parameters = function.get("parameters")
        out += string(function["name"]) + string(function.get("description") or "")
        out += string("{}" if parameters is None else canonical_json(parameters))
        out += b"\x01" if function.get("strict") else b"\x00"
    choice = body.get("tool_choice")
    if choice is None or choice == "auto":
        out += b"\x00"
    elif choice == "none":
        out += b"\x01"
    elif choice == "required":
        out += b"\x02"
    else:
        out += b"\x03" + string(choice["function"]["name"])
    parallel = body.get("parallel_tool_calls")
    return out + (b"\x00" if parallel is False else b"\x01")


def canonical_json(value: Any) -> str:
    """§4.3: compact JSON, members in the order written, UTF-8 (not \\u escapes) for non-ASCII text."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def response_format_option(response_format: Mapping[str, Any] | None) -> bytes:
    """§4.3 option 8: u8 kind (1 json_object, 2 json_schema) [‖ string name ‖ u8 strict ‖ string schema]."""
    if not response_format or response_format.get("type") in (None, "text"):
        return b""
    if response_format["type"] == "json_object":
        return b"\x08\x01"
    spec = response_format["json_schema"]
    return (b"\x08\x02" + string(spec["name"]) + (b"\x01" if spec.get("strict") else b"\x00")
            + string(canonical_json(spec["schema"])))


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


def output_hash_choices(choices: list[tuple[str, list[Mapping[str, Any]] | None]]) -> bytes:
    """§8.3: the output hash of a whole answer, from each choice's text and its `logprobs.content` entries
    (None when the request asked for none). One choice without logprobs hashes as its text alone."""
    if len(choices) == 1 and choices[0][1] is None:
        return output_hash(choices[0][0])
    out = u32(len(choices))
    for text, entries in choices:
        out += string(text)
        if entries is None:
            out += b"\x00"
            continue
        out += b"\x01" + u32(len(entries))
        for entry in entries:
            out += u32(len(entry["bytes"])) + bytes(entry["bytes"]) + f32(entry["logprob"])
            top = entry.get("top_logprobs") or []
            out += u32(len(top))
            for alternative in top:
                out += u32(len(alternative["bytes"])) + bytes(alternative["bytes"]) + f32(alternative["logprob"])
    return tagged("agora-output-v2", out)


def cost(price_in: int, price_out: int, input_tokens: int, output_tokens: int) -> int | None:
    """§3.5: the price of a job in µ, or None when it overflows u64."""
    total = price_in * input_tokens + price_out * output_tokens
    return total if total <= U64_MAX else None


def embeddings_hash(vectors: list[bytes]) -> bytes:
    """§8.3: the output hash of an embeddings answer, from each vector's little-endian float32 bytes (what
    `encoding_format: "base64"` carries; pack floats with struct.pack("<Nf", ...)):
    tagged("agora-embeddings-v1", u32 count ‖ for each: u32 dimensions ‖ the bytes)."""
    out = u32(len(vectors))
    for vector in vectors:
        out += u32(len(vector) // 4) + vector
    return tagged("agora-embeddings-v1", out)
