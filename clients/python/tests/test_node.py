"""Pays a real Agora node through the official x402 SDK (and once without it), checking every receipt.

Needs a running paid node: AGORA_NODE_URL (its base URL), AGORA_AGENT_SEED (hex seed of a funded payer) and
AGORA_RECEIPT_LOG (where the receipts are logged). The Swift test X402ClientTests starts one and runs this.
"""
import base64
import json
import os
import unittest
import urllib.request

NODE = os.environ.get("AGORA_NODE_URL")
SEED = os.environ.get("AGORA_AGENT_SEED")
LOG = os.environ.get("AGORA_RECEIPT_LOG")

try:
    import x402  # noqa: F401
    HAVE_SDK = True
except ImportError:
    HAVE_SDK = False


@unittest.skipUnless(NODE and SEED and LOG, "no node to pay: AGORA_NODE_URL, AGORA_AGENT_SEED, AGORA_RECEIPT_LOG unset")
@unittest.skipUnless(HAVE_SDK, "the official x402 SDK is not installed (pip install x402)")
class PaidNodeTests(unittest.TestCase):
    def setUp(self):
        from agora_x402 import AgoraPayer, ReceiptLog, Wallet

        self.wallet = Wallet(bytes.fromhex(SEED))
        self.log = ReceiptLog(LOG)
        self.payer = AgoraPayer(self.wallet, budget=50_000, receipt_log=self.log, use_sdk=True)
        self.assertTrue(self.payer.uses_sdk)

    def question(self, **extra):
        return {"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 8,
                "temperature": 0, **extra}

    def assert_paid(self, answer, status):
        self.assertTrue(answer.text)
        self.assertEqual(answer.receipt["payer"], self.wallet.address)
        self.assertEqual(answer.receipt["jobId"], answer.voucher["jobId"])
        self.assertEqual(answer.receipt["jobId"], answer.terms["extra"]["jobId"])
        self.assertLessEqual(answer.receipt["amount"], int(answer.terms["amount"]))
        agora = answer.settlement["extensions"]["agora"]
        self.assertEqual(agora["status"], status)
        self.assertEqual(answer.settlement["transaction"], "")
        logged = [entry for entry in self.log.entries() if entry["receipt"]["jobId"] == answer.receipt["jobId"]]
        self.assertEqual(len(logged), 1)

    def test_chat(self):
        answer = self.payer.chat(NODE, self.question())
        self.assert_paid(answer, "pending")
        self.assertEqual(answer.settlement["extensions"]["agora"]["receipt"], answer.receipt)
        self.assertEqual(answer.settlement["amount"], str(answer.receipt["amount"]))
        self.assertEqual(answer.usage["completion_tokens"], answer.receipt["outputTokens"])

    def test_streamed_chat(self):
        pieces = []
        answer = self.payer.chat(NODE, self.question(stream=True), on_text=pieces.append)
        self.assert_paid(answer, "reserved")
        self.assertGreater(len(pieces), 1)
        self.assertEqual("".join(pieces), answer.text)

    def test_completion(self):
        answer = self.payer.complete(NODE, {"prompt": "The capital of France is", "max_tokens": 6, "temperature": 0})
        self.assert_paid(answer, "pending")

    def test_streamed_completion_with_the_node_choosing_the_seed(self):
        answer = self.payer.complete(NODE, {"prompt": "Once upon a time", "max_tokens": 6, "stream": True})
        self.assert_paid(answer, "reserved")
        self.assertEqual(answer.receipt["seed"], int.from_bytes(bytes.fromhex(answer.receipt["jobId"])[:8], "big"))

    def test_the_plain_function_pays_without_the_sdk(self):
        from agora_x402 import pay

        # Content as text parts: the payer's input hash (parts joined with "\n") must match the node's.
        parts = self.question(messages=[{"role": "user", "content": [
            {"type": "text", "text": "What is"}, {"type": "text", "text": "the capital of France?"}]}])
        answer = pay(NODE, "/v1/chat/completions", parts, self.wallet, 50_000, receipt_log=self.log)
        self.assert_paid(answer, "pending")

    def test_choices_logprobs_and_controls(self):
        # Two sampled choices with log-probabilities and every sampling control: the input hash the payer
        # computes (§4.3's options) must be the node's, and the output hash covers both choices (§8.3).
        answer = self.payer.chat(NODE, self.question(
            n=2, temperature=0.9, seed=3, logprobs=True, top_logprobs=2, presence_penalty=0.5, frequency_penalty=0.25,
            min_p=0.05, repetition_penalty=1.1, logit_bias={"42": 2.5, "7": -100}))
        self.assert_paid(answer, "pending")
        self.assertEqual(len(answer.choices), 2)
        for text, entries in answer.choices:
            self.assertTrue(entries)
            self.assertTrue(all(len(entry["top_logprobs"]) == 2 and entry["logprob"] <= 0 for entry in entries))
        self.assertEqual(answer.usage["completion_tokens"], answer.receipt["outputTokens"])
        self.assertLessEqual(answer.receipt["outputTokens"], answer.terms["extra"]["maxOutputTokens"])
        self.assertEqual(answer.terms["extra"]["maxOutputTokens"], 2 * 8)

    def test_structured_output(self):
        # A schema in the canonical request (§4.3 option 8): the payer hashes it from the dict it sends.
        schema = {"type": "object", "properties": {"city": {"type": "string"}, "ünï": {"enum": [1, 2]}},
                  "required": ["city", "ünï"], "additionalProperties": False}
        answer = self.payer.chat(NODE, self.question(max_tokens=40, response_format={
            "type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": True}}))
        self.assert_paid(answer, "pending")
        if answer.finish_reason == "stop":
            value = json.loads(answer.text)
            self.assertEqual(sorted(value), ["city", "ünï"])

    def test_tool_call(self):
        tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {
            "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
        answer = self.payer.chat(NODE, self.question(max_tokens=48, tools=tools, tool_choice="required"))
        self.assert_paid(answer, "pending")
        self.assertTrue(answer.text.startswith("<tool_call>"))
        self.assertEqual(answer.raw["choices"][0]["message"]["tool_calls"][0]["function"]["name"], "get_weather")

    def test_streamed_completion_with_choices_and_logprobs(self):
        answer = self.payer.complete(NODE, {"prompt": "Once upon a time", "n": 2, "logprobs": 1, "stream": True,
                                            "temperature": 0.7})
        self.assert_paid(answer, "reserved")
        self.assertEqual(len(answer.choices), 2)
        self.assertTrue(all(entries for _, entries in answer.choices))

    def test_terms_above_the_budget_are_not_signed(self):
        from agora_x402 import AgoraPayer, TermsRefused

        stingy = AgoraPayer(self.wallet, budget=1, receipt_log=self.log, use_sdk=True)
        with self.assertRaises(Exception) as caught:
            stingy.chat(NODE, self.question())
        # The SDK may wrap the scheme's exception; the refusal is in the chain.
        error = caught.exception
        while not isinstance(error, TermsRefused) and error.__cause__ is not None:
            error = error.__cause__
        self.assertIsInstance(error, TermsRefused, repr(caught.exception))
        self.assertEqual(error.code, "over_budget")

    def test_an_edited_offer_is_refused_with_its_code(self):
        from agora_x402 import AgoraPayer, PaymentRefused

        payer = AgoraPayer(self.wallet, budget=50_000, receipt_log=self.log, use_sdk=False)
        original = payer._payment_signature

        def edited(header):
            payload = json.loads(base64.b64decode(original(header)))
            payload["accepted"]["maxTimeoutSeconds"] += 1
            return base64.b64encode(json.dumps(payload).encode()).decode()

        payer._payment_signature = edited
        with self.assertRaises(PaymentRefused) as caught:
            payer.chat(NODE, self.question())
        self.assertEqual(caught.exception.code, "accepted_mismatch")
        self.assertEqual(caught.exception.field, "accepted.maxTimeoutSeconds")
        self.assertTrue(caught.exception.terms["accepts"])

    def test_models_advertise_camel_case_terms(self):
        with urllib.request.urlopen(NODE + "/v1/models") as response:
            entry = json.load(response)["data"][0]["agora"]
        self.assertIn("modelHash", entry)
        self.assertIn("publicKey", entry["hpke"])


if __name__ == "__main__":
    unittest.main()
