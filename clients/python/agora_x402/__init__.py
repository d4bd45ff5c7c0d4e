"""Pay Agora nodes from Python (docs/protocol.md): the x402 `upto` scheme for `agora:*` networks, for the
official `x402` SDK or on its own, with every receipt checked and logged.

    from agora_x402 import AgoraPayer, Wallet
    payer = AgoraPayer(Wallet.load("agent.key"), budget=20_000)
    answer = payer.chat("http://127.0.0.1:8080", {"messages": [{"role": "user", "content": "Hi"}]})
    print(answer.text, answer.receipt["amount"])
"""
from .client import AgoraPayer, Answer, NodeRequestError, PaymentRefused, SettlementMismatch, pay
from .encoding import address, address_key, canonical_request, input_hash, output_hash, output_hash_choices
from .receipts import ReceiptLog, ReceiptRejected, verify_receipt
from .scheme import AgoraUptoScheme
from .terms import TermsRefused, check_terms
from .wallet import KeyFileError, Wallet

__all__ = [
    "AgoraPayer", "AgoraUptoScheme", "Answer", "KeyFileError", "NodeRequestError", "PaymentRefused", "ReceiptLog",
    "ReceiptRejected", "SettlementMismatch", "TermsRefused", "Wallet", "address", "address_key",
    "canonical_request", "check_terms", "input_hash", "output_hash", "output_hash_choices", "pay", "verify_receipt",
]
