"""Checking a node's signed receipt against what was paid and received, and a local log of receipts."""
from __future__ import annotations

import json
import os
import threading
import time
from typing import Any, Mapping

from .encoding import cost, output_hash, output_hash_choices, receipt_signing_bytes
from .wallet import verify_signature


class ReceiptRejected(Exception):
    """The receipt does not check out: `field` names what is wrong."""

    def __init__(self, field: str, message: str):
        super().__init__(f"receipt {field}: {message}")
        self.field = field
        self.message = message


def verify_receipt(receipt: Mapping[str, Any], voucher: Mapping[str, Any], terms: Mapping[str, Any], text: str,
                   choices: list | None = None) -> None:
    """Checks a paid job's receipt (docs/protocol.md §8.4): the node's signature; that it answers this voucher
    (node, chain, payer, job, model, input); that the output hash is the hash of the text received (of every
    choice with its log-probabilities when `choices`, [(text, logprobs.content or None)], is given); that the
    seed and the token counts are the terms'; and that the amount is at most what those counts cost at the
    terms' prices and at most the voucher's cap. Raises ReceiptRejected."""
    try:
        message = receipt_signing_bytes(receipt)
    except (KeyError, TypeError, ValueError) as error:
        raise ReceiptRejected("format", f"the receipt is incomplete or malformed: {error}") from error
    if not verify_signature(receipt["node"], receipt.get("signature", ""), message):
        raise ReceiptRejected("signature", "the signature is not the node's")
    for field, expected in [
        ("node", voucher["payee"]), ("chainId", voucher["chainId"]), ("payer", voucher["payer"]),
        ("jobId", voucher["jobId"]), ("modelHash", voucher["modelHash"]), ("inputHash", voucher["inputHash"]),
        ("seed", terms["seed"]),
    ]:
        if receipt[field] != expected:
            raise ReceiptRejected(field, f"is {receipt[field]!r}, but the job paid for has {expected!r}")
    expected_output = output_hash_choices(choices) if choices is not None else output_hash(text)
    if receipt["outputHash"] != expected_output.hex():
        raise ReceiptRejected("outputHash", "is not the hash of the text received")
    if receipt["inputTokens"] != terms["promptTokens"]:
        raise ReceiptRejected("inputTokens", f"{receipt['inputTokens']} is not the terms' {terms['promptTokens']}")
    if receipt["outputTokens"] > terms["maxOutputTokens"]:
        raise ReceiptRejected("outputTokens", f"{receipt['outputTokens']} exceeds {terms['maxOutputTokens']}")
    if receipt["amount"] > voucher["maxAmount"]:
        raise ReceiptRejected("amount", f"{receipt['amount']} is above the voucher's cap {voucher['maxAmount']}")
    owed = cost(terms["pricePerInputToken"], terms["pricePerOutputToken"], receipt["inputTokens"],
                receipt["outputTokens"])
    if owed is not None and receipt["amount"] > owed:
        raise ReceiptRejected("amount", f"{receipt['amount']} is above the {owed} its token counts cost")


def default_log_path() -> str:
    home = os.environ.get("AGORA_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "agora")
    return os.path.join(home, "receipts.jsonl")


class ReceiptLog:
    """An append-only JSON-lines file of verified receipts, with the voucher and terms each answers: what
    a payer needs later to check its spending, look settlements up, or challenge a job."""

    def __init__(self, path: str | None = None):
        self.path = os.path.expanduser(path or default_log_path())
        self._lock = threading.Lock()

    def append(self, entry: Mapping[str, Any]) -> None:
        line = json.dumps({"loggedAt": int(time.time()), **entry}, sort_keys=True, separators=(",", ":"))
        with self._lock:
            os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
                handle.flush()
                os.fsync(handle.fileno())

    def entries(self) -> list[dict]:
        if not os.path.exists(self.path):
            return []
        with open(self.path, encoding="utf-8") as handle:
            return [json.loads(line) for line in handle if line.strip()]
