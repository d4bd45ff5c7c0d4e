"""The x402 `upto` scheme for `agora:*` networks, as a client plugin for the official `x402` SDK.

    client = x402ClientSync()
    client.register("agora:*", AgoraUptoScheme(wallet, budget=20_000))
    client.set_spend_controls(False)   # the SDK's spend controls know no AGR asset

The SDK hands a scheme only the payment requirements, but a payer must check them against its own request
(the input hash binds the exact request). So the scheme signs only inside `expecting(path, body)`, which
names the request being paid; `AgoraPayer` does this for every call. The voucher signed last in this context
is kept for checking the receipt (`last_voucher`).
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Any, Iterator, Mapping

from .terms import PaidRequest, TermsRefused, check_terms, sign_voucher
from .wallet import Wallet

_expected: contextvars.ContextVar[dict | None] = contextvars.ContextVar("agora_expected_request", default=None)


class AgoraUptoScheme:
    """x402 SchemeNetworkClient: the payload is Agora's signed voucher for the offered job."""

    scheme = "upto"

    def __init__(self, wallet: Wallet, budget: int, model_hash: str | None = None):
        """`budget`: the most one job may cost, in µ; `model_hash`: refuse nodes offering another model."""
        self.wallet = wallet
        self.budget = budget
        self.model_hash = model_hash

    @contextlib.contextmanager
    def expecting(self, path: str, body: Mapping[str, Any]) -> Iterator[dict]:
        """Within this block the scheme pays for this request only; the dict it yields receives the
        signed voucher (`voucher`) and the terms it pays (`terms`)."""
        state = {"request": PaidRequest(path, body)}
        token = _expected.set(state)
        try:
            yield state
        finally:
            _expected.reset(token)

    def create_payment_payload(self, requirements: Any) -> dict[str, Any]:
        state = _expected.get()
        if state is None:
            raise TermsRefused(
                "no_request", "AgoraUptoScheme signs only for a known request: call inside scheme.expecting(path, body)")
        voucher = sign_voucher(
            check_terms(requirements, state["request"], self.wallet, self.budget, self.model_hash), self.wallet)
        state["voucher"] = voucher
        state["terms"] = requirements
        return {"voucher": voucher}
