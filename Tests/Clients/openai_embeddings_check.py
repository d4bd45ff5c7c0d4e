"""`POST /v1/embeddings` through the official client's `client.embeddings.create`: one text, a batch of texts,
token ids, both encodings (the client asks for base64 unless told otherwise), `dimensions` at the model's
width, and refusals. Each answer's vectors are checked against its receipt's output hash on the client side
(agora_x402's `embeddings_hash`, from the bytes received), and printed with the request for the Swift test to
compare with llama.cpp's vectors and re-execute.

Usage: python3 openai_embeddings_check.py BASE_URL SENTENCE...
"""
import base64
import json
import struct
import sys

import openai
from agora_x402.encoding import embeddings_hash

base_url, sentences = sys.argv[1], sys.argv[2:]
client = openai.OpenAI(base_url=base_url + "/v1", api_key="unused", max_retries=0)
model = next(m.id for m in client.models.list().data if "MiniLM" in m.id)
cases, problems, refused = [], [], {}


def create(name, encoding=None, **body):
    raw = client.embeddings.with_raw_response.create(model=model, **body, **({"encoding_format": encoding} if encoding else {}))
    answer = raw.parse()
    dump = json.loads(raw.text)
    vectors = [list(item.embedding) for item in answer.data]
    as_bytes = [struct.pack(f"<{len(v)}f", *v) for v in vectors]
    if encoding != "float":
        # What the node sent, before the client decoded it: base64 of the little-endian floats.
        wire = [base64.b64decode(item["embedding"]) for item in dump["data"]]
        if wire != as_bytes:
            problems.append(f"{name}: the client's floats are not the bytes sent")
    receipt = dump["agora_receipt"]
    if embeddings_hash(as_bytes).hex() != receipt["outputHash"]:
        problems.append(f"{name}: the vectors received do not hash to the receipt's output hash")
    if answer.usage.prompt_tokens != receipt["inputTokens"] or answer.usage.total_tokens != answer.usage.prompt_tokens:
        problems.append(f"{name}: usage {answer.usage} does not match the receipt")
    if [item.index for item in answer.data] != list(range(len(vectors))) or answer.model != model:
        problems.append(f"{name}: indices or model wrong: {dump['model']}")
    sent = dict(body, model=model, **({"encoding_format": encoding} if encoding else {}))
    cases.append({"name": name, "body": json.dumps(sent), "receipt": receipt,
                  "vectors": [b.hex() for b in as_bytes]})
    return vectors


one = create("one text, default encoding (base64)", input=sentences[0])
create("a batch of texts as floats", encoding="float", input=sentences)
create("dimensions at the model's width", input=sentences[1], dimensions=384)
tokens = [7592, 2088]  # "hello world" in the model's vocabulary
create("token ids", input=tokens)
create("batches of token ids", input=[tokens, [2088]])
if len(one) != 1 or len(one[0]) != 384:
    problems.append(f"one text: {len(one)} vectors of {len(one[0]) if one else 0}")


def refuse(name, **body):
    try:
        client.embeddings.create(model=model, **body)
        problems.append(f"{name}: accepted")
    except openai.APIStatusError as error:
        detail = error.body if isinstance(error.body, dict) else {}
        refused[name] = [error.status_code, detail.get("code"), detail.get("param")]


refuse("dimensions", input="x", dimensions=128)
refuse("empty", input="")
refuse("unknown", input="x", extra_body={"truncate": True})
refuse("model", input="x", extra_body={"model": "text-embedding-3-small"})
refuse("too long", input="word " * 600)
refuse("token range", input=[30522])
print(json.dumps({"cases": cases, "problems": problems, "refused": refused}))
