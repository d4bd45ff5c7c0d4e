"""Checking a node's 402 terms against the payer's own request and budget, and signing the voucher."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Mapping

from .encoding import U64_MAX, address_key, canonical_request, cost, derived_seed, input_hash, voucher_signing_bytes
from .wallet import Wallet

CHAT_PATH = "/v1/chat/completions"
TEXT_PATH = "/v1/completions"


class TermsRefused(Exception):
    """The payer refuses to sign: the terms are above its budget or do not match its own request."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class PaidRequest:
    """A request about to be paid: the endpoint path and the JSON body exactly as sent."""

    path: str
    body: Mapping[str, Any]

    @property
    def chat(self) -> bool:
        if self.path.endswith(CHAT_PATH):
            return True
        if self.path.endswith(TEXT_PATH):
            return False
        raise TermsRefused("unsupported_endpoint", f"{self.path} is not a paid Agora endpoint")


def _field(requirements: Any, name: str, snake: str | None = None) -> Any:
    """Reads a requirements field from the x402 SDK's model or from plain JSON."""
    if isinstance(requirements, Mapping):
        return requirements.get(name)
    return getattr(requirements, snake or name)


def requirements_json(requirements: Any) -> dict:
    """The requirements as the wire JSON (camelCase), from the SDK's model or from plain JSON."""
    if isinstance(requirements, Mapping):
        return dict(requirements)
    return requirements.model_dump(by_alias=True, exclude_none=True)


def check_terms(
    requirements: Any, request: PaidRequest, payer: Wallet, budget: int, model_hash: str | None = None,
    now: float | None = None,
) -> dict:
    """Checks one `accepts[]` entry against the request and the budget; returns the unsigned voucher.

    Refuses (TermsRefused) when: the scheme or network is not Agora's; the amount is above `budget` or is not
    what the prices and token counts give; the model is not `model_hash` (when given); the seed is neither the
    request's own nor the one derived from the job id; the input hash is not the hash of this request; the
    terms have expired or run implausibly long.
    """
    scheme = _field(requirements, "scheme")
    network = _field(requirements, "network")
    extra = _field(requirements, "extra") or {}
    if scheme != "upto" or not isinstance(network, str) or not network.startswith("agora:"):
        raise TermsRefused("unexpected_terms", f"not an Agora 'upto' offer ({scheme} on {network})")
    try:
        chain = extra["chainId"]
        job_id = bytes.fromhex(extra["jobId"])
        model = bytes.fromhex(extra["modelHash"])
        claimed_input = bytes.fromhex(extra["inputHash"])
        seed, expiry = int(extra["seed"]), int(extra["expiry"])
        price_in, price_out = int(extra["pricePerInputToken"]), int(extra["pricePerOutputToken"])
        prompt_tokens, max_output = int(extra["promptTokens"]), int(extra["maxOutputTokens"])
        amount = int(_field(requirements, "amount"))
        pay_to = _field(requirements, "payTo", "pay_to")
        address_key(pay_to)
        timeout = int(_field(requirements, "maxTimeoutSeconds", "max_timeout_seconds"))
    except (KeyError, TypeError, ValueError) as error:
        raise TermsRefused("unexpected_terms", f"the terms are incomplete or malformed: {error}") from error
    if len(job_id) != 32 or len(model) != 32 or len(claimed_input) != 32:
        raise TermsRefused("unexpected_terms", "a hash in the terms is not 32 bytes")
    if network != "agora:" + chain:
        raise TermsRefused("unexpected_terms", f"network {network} is not chain {chain}")
    if model_hash is not None and model.hex() != model_hash.lower():
        raise TermsRefused("wrong_model", f"the node offers model {model.hex()}, not {model_hash}")
    if amount > budget:
        raise TermsRefused("over_budget", f"the node asks up to {amount} µ, above the budget of {budget} µ")
    if cost(price_in, price_out, prompt_tokens, max_output) != amount:
        raise TermsRefused("unexpected_terms", "the amount is not what the prices and token counts give")
    body = request.body
    own_seed = body.get("seed")
    if own_seed is None and seed != derived_seed(job_id):
        raise TermsRefused("unexpected_terms", "the seed is not the one derived from the job id")
    if own_seed is not None and seed != own_seed:
        raise TermsRefused("unexpected_terms", "the seed is not the request's own")
    try:
        # The terms cap all choices together: a request without max_tokens gets maxOutputTokens / n each.
        canonical = canonical_request(body, request.chat, seed, default_max_tokens=max_output // max(1, body.get("n") or 1))
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise TermsRefused("unexpected_terms", f"the request cannot be hashed: {error}") from error
    if input_hash(model, canonical) != claimed_input:
        raise TermsRefused("input_mismatch", "the input hash is not the hash of our request")
    current = time.time() if now is None else now
    if expiry < current or expiry > current + timeout + 60 or not 0 <= expiry <= U64_MAX:
        raise TermsRefused("unexpected_terms", f"the terms' expiry {expiry} is not within maxTimeoutSeconds of now")
    return {
        "chainId": chain, "payer": payer.address, "payee": pay_to, "jobId": job_id.hex(), "modelHash": model.hex(),
        "inputHash": claimed_input.hex(), "maxAmount": amount, "expiry": expiry,
    }


def sign_voucher(voucher: dict, payer: Wallet) -> dict:
    """§5.2: the voucher with its signature (128 lowercase hex)."""
    signed = dict(voucher)
    signed["signature"] = payer.sign(voucher_signing_bytes(voucher)).hex()
    return signed
