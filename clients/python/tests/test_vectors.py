"""The package against docs/vectors/payment.json, the vectors the Swift code generates (AGORA_VECTORS names the
file; by default it is found from this checkout)."""
import base64
import json
import os
import unittest

from agora_x402 import Wallet, address, address_key, canonical_request, input_hash, output_hash, output_hash_choices, verify_receipt
from agora_x402.encoding import canonical_embeddings_request, embeddings_hash
from agora_x402.encoding import cost, derived_seed, receipt_signing_bytes, voucher_signing_bytes
from agora_x402.receipts import ReceiptRejected
from agora_x402.sealed import node_hpke_key, open_request, open_response, seal_request, seal_response
from agora_x402.terms import PaidRequest, TermsRefused, check_terms, sign_voucher

VECTORS = os.environ.get("AGORA_VECTORS") or os.path.join(
    os.path.dirname(__file__), "..", "..", "..", "docs", "vectors", "payment.json")


def load():
    with open(VECTORS, encoding="utf-8") as handle:
        return json.load(handle)


class VectorTests(unittest.TestCase):
    vectors = load()

    def test_keys_and_addresses(self):
        for key in self.vectors["keys"]:
            wallet = Wallet(bytes.fromhex(key["seed"]))
            self.assertEqual(wallet.public_key.hex(), key["publicKey"])
            self.assertEqual(wallet.address, key["address"])
            self.assertEqual(address(wallet.public_key), key["address"])
            self.assertEqual(address_key(key["address"]).hex(), key["publicKey"])
        with self.assertRaises(ValueError):
            address_key(self.vectors["keys"][0]["address"][:-1] + "a")

    def test_canonical_requests_and_input_hashes(self):
        for request in self.vectors["requests"]:
            job_id = bytes.fromhex(request["jobId"])
            self.assertEqual(derived_seed(job_id), request["derivedSeed"], request["name"])
            body = json.loads(request["body"])
            seed = body.get("seed", request["derivedSeed"])
            if request["endpoint"] == "/v1/embeddings":
                canonical = canonical_embeddings_request(body)
            else:
                canonical = canonical_request(body, request["endpoint"] == "/v1/chat/completions", seed, 128)
            self.assertEqual(canonical.hex(), request["canonicalRequest"], request["name"])
            self.assertEqual(
                input_hash(bytes.fromhex(request["modelHash"]), canonical).hex(), request["inputHash"], request["name"])

    def test_signed_objects(self):
        wallets = {Wallet(bytes.fromhex(k["seed"])).address: Wallet(bytes.fromhex(k["seed"]))
                   for k in self.vectors["keys"]}
        for entries, signing_bytes, signer in [
            (self.vectors["vouchers"], voucher_signing_bytes, "payer"),
            (self.vectors["receipts"], receipt_signing_bytes, "node"),
        ]:
            for entry in entries:
                obj = json.loads(entry["json"])
                self.assertIn("chainId", obj)
                self.assertIn("jobId", obj)
                message = signing_bytes(obj)
                self.assertEqual(message.hex(), entry["signingBytes"], entry["name"])
                self.assertEqual(wallets[obj[signer]].sign(message).hex(), entry["signature"], entry["name"])
                self.assertEqual(obj["signature"], entry["signature"])

    def test_outputs_and_prices(self):
        for output in self.vectors["outputs"]:
            self.assertEqual(output_hash(output["text"]).hex(), output["outputHash"])
        for output in self.vectors["choiceOutputs"]:
            choices = [(choice["text"], choice.get("logprobs")) for choice in output["choices"]]
            self.assertEqual(output_hash_choices(choices).hex(), output["outputHash"], output["name"])
        for output in self.vectors["embeddingOutputs"]:
            vectors = [bytes.fromhex(vector) for vector in output["vectors"]]
            self.assertEqual(embeddings_hash(vectors).hex(), output["outputHash"], output["name"])
        for price in self.vectors["prices"]:
            self.assertEqual(
                cost(price["perInputToken"], price["perOutputToken"], price["inputTokens"], price["outputTokens"]),
                price["cost"])
        self.assertIsNone(cost(2**63, 2**63, 1, 1))

    def test_the_receipt_answers_its_voucher(self):
        voucher = json.loads(self.vectors["vouchers"][0]["json"])
        receipt = json.loads(self.vectors["receipts"][0]["json"])
        terms = {"seed": receipt["seed"], "promptTokens": 16, "maxOutputTokens": 8, "pricePerInputToken": 5,
                 "pricePerOutputToken": 20}
        text = self.vectors["outputs"][0]["text"]
        verify_receipt(receipt, voucher, terms, text)
        with self.assertRaises(ReceiptRejected) as caught:
            verify_receipt(receipt, voucher, terms, text + " ")
        self.assertEqual(caught.exception.field, "outputHash")
        with self.assertRaises(ReceiptRejected) as caught:
            verify_receipt(dict(receipt, amount=receipt["amount"] - 1), voucher, terms, text)
        self.assertEqual(caught.exception.field, "signature")
        with self.assertRaises(ReceiptRejected) as caught:
            verify_receipt(receipt, voucher, dict(terms, pricePerOutputToken=19), text)
        self.assertEqual(caught.exception.field, "amount")

    def test_sealed_bodies(self):
        self.assertTrue(self.vectors["sealed"])
        for vector in self.vectors["sealed"]:
            node_key = node_hpke_key(bytes.fromhex(vector["nodeSeed"]))
            self.assertEqual(
                base64.b64encode(node_key.public_key().public_bytes_raw()).decode(), vector["nodeHPKEPublicKey"])
            plaintext, response_key = open_request(
                base64.b64decode(vector["sealedRequest"]), base64.b64decode(vector["encapsulatedKey"]), node_key)
            self.assertEqual(plaintext.decode(), vector["request"])
            self.assertEqual(response_key.hex(), vector["responseKey"])
            self.assertEqual(open_response(base64.b64decode(vector["sealedResponse"]), response_key).decode(),
                             vector["response"])
            # And the other way round: what this package seals, the same key opens.
            sealed, enc, key = seal_request(b'{"x":1}', node_key.public_key().public_bytes_raw())
            self.assertEqual(open_request(sealed, enc, node_key), (b'{"x":1}', key))
            self.assertEqual(open_response(seal_response(b"answer", key), key), b"answer")


class TermsTests(unittest.TestCase):
    """What the payer refuses to sign, on terms built from the first request vector."""

    vectors = load()

    def setUp(self):
        request = self.vectors["requests"][0]
        self.body = json.loads(request["body"])
        self.payer = Wallet(bytes.fromhex(self.vectors["keys"][0]["seed"]))
        self.node = self.vectors["keys"][1]["address"]
        self.request = PaidRequest("/v1/chat/completions", self.body)
        canonical = canonical_request(self.body, True, request["derivedSeed"], 128)
        self.now = 1_767_225_300
        self.offer = {
            "scheme": "upto", "network": "agora:agora-demo", "asset": "AGR", "amount": str(5 * 16 + 20 * 128),
            "payTo": self.node, "maxTimeoutSeconds": 300,
            "extra": {
                "jobId": request["jobId"], "modelHash": request["modelHash"],
                "inputHash": input_hash(bytes.fromhex(request["modelHash"]), canonical).hex(),
                "seed": request["derivedSeed"], "chainId": "agora-demo", "pricePerInputToken": 5,
                "pricePerOutputToken": 20, "promptTokens": 16, "maxOutputTokens": 128, "expiry": self.now + 300,
            },
        }

    def check(self, offer, budget=10_000, **options):
        return check_terms(offer, self.request, self.payer, budget, now=self.now, **options)

    def refused(self, offer, budget=10_000, **options):
        with self.assertRaises(TermsRefused) as caught:
            self.check(offer, budget, **options)
        return caught.exception.code

    def edited(self, **extra):
        return dict(self.offer, extra=dict(self.offer["extra"], **extra))

    def test_the_offer_as_issued_is_signed(self):
        voucher = sign_voucher(self.check(self.offer), self.payer)
        self.assertEqual(voucher["maxAmount"], 5 * 16 + 20 * 128)
        self.assertEqual(voucher["payer"], self.payer.address)
        self.assertEqual(len(voucher["signature"]), 128)

    def test_refusals(self):
        self.assertEqual(self.refused(self.offer, budget=100), "over_budget")
        self.assertEqual(self.refused(dict(self.offer, amount="1")), "unexpected_terms")
        self.assertEqual(self.refused(self.edited(inputHash="00" * 32)), "input_mismatch")
        self.assertEqual(self.refused(self.edited(seed=1)), "unexpected_terms")
        self.assertEqual(self.refused(self.edited(expiry=self.now - 1)), "unexpected_terms")
        self.assertEqual(self.refused(self.edited(expiry=self.now + 86_400)), "unexpected_terms")
        self.assertEqual(self.refused(dict(self.offer, network="agora:other")), "unexpected_terms")
        self.assertEqual(self.refused(dict(self.offer, scheme="exact")), "unexpected_terms")
        self.assertEqual(self.refused(dict(self.offer, payTo="agr1nope")), "unexpected_terms")
        self.assertEqual(self.refused(self.offer, model_hash="11" * 32), "wrong_model")
        # A different request than the one the terms were issued for.
        self.request = PaidRequest("/v1/chat/completions", dict(self.body, temperature=0.5))
        self.assertEqual(self.refused(self.offer), "input_mismatch")


if __name__ == "__main__":
    unittest.main()
