"""Pays an Agora node from the x402 Foundation's own Python client (`x402` on PyPI).

Usage: python3 x402_pay.py BASE_URL AGENT_SEED_HEX
Registers a small scheme plugin for `upto` on `agora:*` that signs Agora's voucher with the agent's Ed25519
key (the canonical encoding of docs/encoding.md), lets x402Client build the PaymentPayload, retries with the
PAYMENT-SIGNATURE header, and prints the answer and the decoded PAYMENT-RESPONSE as JSON.
"""
import base64
import hashlib
import json
import struct
import sys
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from x402 import x402ClientSync
from x402.http import (
    decode_payment_required_header,
    decode_payment_response_header,
    encode_payment_signature_header,
)

base_url, seed_hex = sys.argv[1], sys.argv[2]
key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
public = key.public_key().public_bytes_raw()


def tagged(tag: str, data: bytes) -> bytes:
    return hashlib.sha256(tag.encode() + b"\0" + data).digest()


def address(raw: bytes) -> str:
    checksum = tagged("agora-address-v1", raw)[:4]
    return "agr1" + base64.b32encode(raw + checksum).decode().lower().rstrip("=")


def address_key(text: str) -> bytes:
    body = text[4:].upper()
    return base64.b32decode(body + "=" * (-len(body) % 8))[:32]


class AgoraUptoScheme:
    """x402 scheme plugin: the payload is Agora's signed voucher for the offered job."""

    scheme = "upto"

    def create_payment_payload(self, requirements):
        terms = requirements.extra
        chain = terms["chainId"].encode()
        payee = address_key(requirements.pay_to)
        amount = int(requirements.amount)
        message = (
            b"agora-voucher-v1"
            + struct.pack(">I", len(chain)) + chain
            + public + payee
            + bytes.fromhex(terms["jobId"]) + bytes.fromhex(terms["modelHash"]) + bytes.fromhex(terms["inputHash"])
            + struct.pack(">Q", amount) + struct.pack(">Q", terms["expiry"])
        )
        voucher = {
            "chainID": terms["chainId"], "payer": address(public), "payee": requirements.pay_to,
            "jobID": terms["jobId"], "modelHash": terms["modelHash"], "inputHash": terms["inputHash"],
            "maxAmount": amount, "expiry": terms["expiry"], "signature": key.sign(message).hex(),
        }
        return {"voucher": voucher}


client = x402ClientSync()
client.register("agora:*", AgoraUptoScheme())
client.set_spend_controls(False)

body = json.dumps({
    "messages": [{"role": "user", "content": "What is the capital of France?"}],
    "max_tokens": 12, "temperature": 0,
}).encode()


def post(headers):
    request = urllib.request.Request(
        base_url + "/v1/chat/completions", data=body, method="POST",
        headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


status, headers, _ = post({})
assert status == 402, status
required = decode_payment_required_header(headers["PAYMENT-REQUIRED"])
payload = client.create_payment_payload(required)
status, headers, data = post({"PAYMENT-SIGNATURE": encode_payment_signature_header(payload)})
assert status == 200, (status, data)
settle = decode_payment_response_header(headers["PAYMENT-RESPONSE"])
answer = json.loads(data)
print(json.dumps({
    "text": answer["choices"][0]["message"]["content"],
    "receipt": answer["agora_receipt"],
    "settle_success": settle.success,
    "settle_transaction": settle.transaction,
    "settle_network": settle.network,
    "settle_amount": settle.amount,
    "offered_amount": required.accepts[0].amount,
}))
