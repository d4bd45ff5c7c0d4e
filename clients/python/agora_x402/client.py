"""Paying an Agora node for one job: request → 402 terms → checked and signed voucher → answer → checked receipt.

`AgoraPayer` drives the exchange over `urllib` (standard library). When the official `x402` SDK is installed
it builds and encodes the payment through `x402ClientSync` with `AgoraUptoScheme`; without it (or with
`use_sdk=False`) it builds the same `PAYMENT-SIGNATURE` itself. `pay` is the one-call form.
"""
from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .encoding import output_hash_choices, receipt_signing_bytes
from .receipts import ReceiptLog, ReceiptRejected, verify_receipt
from .scheme import AgoraUptoScheme
from .terms import CHAT_PATH, TEXT_PATH, TermsRefused, requirements_json
from .wallet import Wallet, verify_signature


class NodeRequestError(Exception):
    """The node answered with an error (not a payment refusal): `status` and its OpenAI-style `error` body."""

    def __init__(self, status: int, body: Any):
        detail = body.get("error", body) if isinstance(body, dict) else body
        super().__init__(f"HTTP {status}: {detail}")
        self.status = status
        self.body = body


class PaymentRefused(Exception):
    """The node refused the payment: `code` is the documented code (docs/protocol.md §11.2), `field` the
    JSON path at fault, `terms` the fresh terms it offered instead."""

    def __init__(self, code: str, message: str, field: str | None, terms: dict):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.field = field
        self.terms = terms


class SettlementMismatch(Exception):
    """PAYMENT-RESPONSE disagrees with the answer (another job, receipt or amount)."""


@dataclass
class Answer:
    """A completed, checked job."""

    text: str
    finish_reason: str | None
    receipt: dict
    voucher: dict | None = None
    terms: dict | None = None
    settlement: dict | None = None
    usage: dict | None = None
    raw: Any = field(default=None, repr=False)
    # Every choice as (text, logprobs.content or None when not asked for): what the output hash covers.
    choices: list = field(default_factory=list)


def _decode_header(value: str) -> dict:
    return json.loads(base64.b64decode(value))


class AgoraPayer:
    def __init__(
        self, wallet: Wallet, budget: int, model_hash: str | None = None, receipt_log: ReceiptLog | str | None = "",
        use_sdk: bool | None = None, timeout: float = 600,
    ):
        """`budget`: the most one job may cost, in µ. `receipt_log`: a ReceiptLog or path (default:
        $AGORA_HOME/receipts.jsonl; None keeps no log). `use_sdk`: pay through the official x402 SDK
        (default: when it is installed)."""
        self.scheme = AgoraUptoScheme(wallet, budget, model_hash)
        self.wallet = wallet
        self.timeout = timeout
        if receipt_log is None:
            self.log = None
        elif isinstance(receipt_log, ReceiptLog):
            self.log = receipt_log
        else:
            self.log = ReceiptLog(receipt_log or None)
        self._sdk = None
        if use_sdk is not False:
            try:
                from x402 import x402ClientSync
            except ImportError:
                if use_sdk:
                    raise
            else:
                self._sdk = x402ClientSync()
                self._sdk.register("agora:*", self.scheme)
                # The SDK's spend controls know only its own assets; the budget is enforced by the scheme.
                self._sdk.set_spend_controls(False)

    @property
    def uses_sdk(self) -> bool:
        return self._sdk is not None

    def chat(self, base_url: str, body: Mapping[str, Any], on_text: Callable[[str], None] | None = None) -> Answer:
        return self.request(base_url, CHAT_PATH, body, on_text)

    def complete(self, base_url: str, body: Mapping[str, Any], on_text: Callable[[str], None] | None = None) -> Answer:
        return self.request(base_url, TEXT_PATH, body, on_text)

    def request(
        self, base_url: str, path: str, body: Mapping[str, Any], on_text: Callable[[str], None] | None = None
    ) -> Answer:
        """One paid job. A streamed body (`"stream": true`) is read to the end, each piece passed to
        `on_text`. Raises TermsRefused, PaymentRefused, NodeRequestError, ReceiptRejected or
        SettlementMismatch; a returned Answer has been checked and logged."""
        url = base_url.rstrip("/") + path
        data = json.dumps(body).encode()
        status, headers, response = self._post(url, data, {})
        if status == 200:
            # A free node: its receipt proves what was computed, nothing was paid.
            answer = self._read(response, headers, path, on_text, body)
            self._check_free(answer)
            return answer
        if status != 402:
            raise NodeRequestError(status, _json_or_text(response.read()))
        response.read()
        header = headers.get("payment-required")
        if not header:
            raise NodeRequestError(402, "402 without a PAYMENT-REQUIRED header")
        with self.scheme.expecting(path, body) as state:
            signature = self._payment_signature(header)
        status, headers, response = self._post(url, data, {"PAYMENT-SIGNATURE": signature})
        if status == 402:
            refused = _decode_header(headers["payment-required"]) if headers.get("payment-required") else {}
            refusal = (refused.get("extensions") or {}).get("agora") or {}
            raise PaymentRefused(
                refusal.get("code", "payment_required"), refusal.get("message", refused.get("error", "")),
                refusal.get("field"), refused)
        if status != 200:
            raise NodeRequestError(status, _json_or_text(response.read()))
        answer = self._read(response, headers, path, on_text, body)
        answer.voucher = state["voucher"]
        answer.terms = requirements_json(state["terms"])
        verify_receipt(answer.receipt, answer.voucher, answer.terms["extra"], answer.text, answer.choices)
        self._check_settlement(answer, headers)
        if self.log is not None:
            self.log.append({
                "url": url, "receipt": answer.receipt, "voucher": answer.voucher, "terms": answer.terms,
                "settlement": answer.settlement,
            })
        return answer

    def _payment_signature(self, header: str) -> str:
        if self._sdk is not None:
            from x402.http import decode_payment_required_header, encode_payment_signature_header

            payload = self._sdk.create_payment_payload(decode_payment_required_header(header))
            return encode_payment_signature_header(payload)
        required = _decode_header(header)
        offers = [offer for offer in required.get("accepts", [])
                  if offer.get("scheme") == "upto" and str(offer.get("network", "")).startswith("agora:")]
        if not offers:
            raise TermsRefused("unexpected_terms", "no 'upto' offer on an agora network")
        payload = {
            "x402Version": 2, "payload": self.scheme.create_payment_payload(offers[0]), "accepted": offers[0],
        }
        if required.get("resource") is not None:
            payload["resource"] = required["resource"]
        return base64.b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode()

    def _post(self, url: str, data: bytes, headers: dict[str, str]):
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json", **headers})
        try:
            response = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            response = error
        headers = {name.lower(): value for name, value in response.headers.items()}
        return response.status, headers, response

    def _read(self, response, headers: dict, path: str, on_text, body: Mapping[str, Any]) -> Answer:
        chat = path.endswith(CHAT_PATH)
        wants_logprobs = body.get("logprobs") is True if chat else body.get("logprobs") is not None
        if not headers.get("content-type", "").startswith("text/event-stream"):
            data = json.loads(response.read())
            choices = []
            for choice in sorted(data["choices"], key=lambda c: c["index"]):
                # With tools on offer the answer's text as generated (what the hash covers) is `agora_text`.
                text = (choice["message"].get("agora_text", choice["message"]["content"]) or "") if chat else choice["text"]
                logprobs = choice.get("logprobs")
                choices.append((text, logprobs["content"] if logprobs is not None else None))
            if on_text is not None and choices[0][0]:
                on_text(choices[0][0])
            first = data["choices"][0]
            return Answer(choices[0][0], first.get("finish_reason"), data["agora_receipt"], usage=data.get("usage"),
                          raw=data, choices=choices)
        texts, entries, receipt, finish, usage, events = {}, {}, None, None, None, []
        for line in response:
            line = line.decode("utf-8").rstrip("\r\n")
            if not line.startswith("data: "):
                continue
            payload = line[len("data: "):]
            if payload == "[DONE]":
                break
            event = json.loads(payload)
            events.append(event)
            if "error" in event:
                raise NodeRequestError(200, event)
            for choice in event.get("choices", []):
                index = choice.get("index", 0)
                piece = (choice.get("delta") or {}).get("content") if chat else choice.get("text")
                texts.setdefault(index, [])
                entries.setdefault(index, [])
                if piece:
                    texts[index].append(piece)
                    if on_text is not None and index == 0:
                        on_text(piece)
                entries[index].extend((choice.get("logprobs") or {}).get("content") or [])
                if choice.get("agora_text") is not None:
                    texts[index] = [choice["agora_text"]]
                if index == 0:
                    finish = choice.get("finish_reason") or finish
            receipt = event.get("agora_receipt") or receipt
            usage = event.get("usage") or usage
        if receipt is None:
            raise ReceiptRejected("missing", "the stream ended without a receipt")
        choices = [("".join(texts[i]), entries[i] if wants_logprobs else None) for i in sorted(texts)]
        return Answer(choices[0][0], finish, receipt, usage=usage, raw=events, choices=choices)

    def _check_free(self, answer: Answer) -> None:
        receipt = answer.receipt
        if not verify_signature(receipt["node"], receipt.get("signature", ""), receipt_signing_bytes(receipt)):
            raise ReceiptRejected("signature", "the signature is not the node's")
        if receipt["outputHash"] != output_hash_choices(answer.choices).hex():
            raise ReceiptRejected("outputHash", "is not the hash of the text received")

    def _check_settlement(self, answer: Answer, headers: dict) -> None:
        header = headers.get("payment-response")
        if not header:
            raise SettlementMismatch("the paid answer has no PAYMENT-RESPONSE")
        settlement = _decode_header(header)
        agora = (settlement.get("extensions") or {}).get("agora") or {}
        if not settlement.get("success") or agora.get("jobId") != answer.voucher["jobId"]:
            raise SettlementMismatch(f"PAYMENT-RESPONSE is for another job or failed: {settlement}")
        if agora.get("status") == "pending":
            if agora.get("receipt") != answer.receipt or settlement.get("amount") != str(answer.receipt["amount"]):
                raise SettlementMismatch("PAYMENT-RESPONSE's receipt or amount is not the answer's")
        elif agora.get("status") != "reserved":
            raise SettlementMismatch(f"unknown settlement status {agora.get('status')!r}")
        answer.settlement = settlement


def pay(
    base_url: str, path: str, body: Mapping[str, Any], wallet: Wallet, budget: int, **options: Any
) -> Answer:
    """One paid job without the x402 SDK: `AgoraPayer(wallet, budget, use_sdk=False, **options).request(...)`."""
    return AgoraPayer(wallet, budget, use_sdk=False, **options).request(base_url, path, body)


def _json_or_text(data: bytes) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")
