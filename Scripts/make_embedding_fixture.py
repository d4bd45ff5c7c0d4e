#!/usr/bin/env python3
"""Records Tests/Fixtures/embeddings_minilm.json: llama.cpp's sentence embeddings of
Tests/Fixtures/embedding_sentences.txt on all-MiniLM-L6-v2.gguf, every float's bits.

llama-embedding prints seven decimals, so the bits come from Scripts/embedding_reference.c, which runs the same
library calls one sentence per batch; every value it gives is checked against llama-embedding's own printed
decimals for the same sentence (run one sentence at a time, flash attention off, the AVX2-only build that is
the engine's reference; see shared/README.md for building it).

usage: make_embedding_fixture.py LLAMA_CPP_DIR BUILD_DIR MODEL.gguf
"""
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
llama, build, model = sys.argv[1:4]
sentences = [line.rstrip("\n") for line in open(os.path.join(root, "Tests/Fixtures/embedding_sentences.txt"), encoding="utf-8")]
sentences = [s for s in sentences if s]

with tempfile.TemporaryDirectory() as tmp:
    binary = os.path.join(tmp, "embedding_reference")
    libs = [f"{build}/src/libllama.a", f"{build}/ggml/src/libggml.a", f"{build}/ggml/src/libggml-cpu.a",
            f"{build}/ggml/src/libggml-base.a"]
    subprocess.run(["gcc", "-O2", "-ffp-contract=off", "-c", os.path.join(root, "Scripts/embedding_reference.c"),
                    f"-I{llama}/include", f"-I{llama}/ggml/include", "-o", binary + ".o"], check=True)
    subprocess.run(["g++", binary + ".o", *libs, "-fopenmp", "-lpthread", "-lm", "-o", binary], check=True)
    out = subprocess.run([binary, model], input="\n".join(sentences) + "\n", capture_output=True, text=True, check=True)
    rows = [json.loads(line) for line in out.stdout.splitlines()]
assert len(rows) == len(sentences), (len(rows), len(sentences))

cases = []
for i, (text, row) in enumerate(zip(sentences, rows)):
    values = [struct.unpack(">f", bytes.fromhex(row["bits"][j:j + 8]))[0] for j in range(0, len(row["bits"]), 8)]
    printed = subprocess.run(
        [f"{build}/bin/llama-embedding", "-m", model, "-p", text, "-fa", "off", "--embd-normalize", "2",
         "--embd-output-format", "raw", "-t", "2"], capture_output=True, text=True, check=True).stdout.split()
    mine = ["%1.7f" % v for v in values]
    assert printed == mine, f"sentence {i}: llama-embedding prints other values than the reference harness"
    cases.append({"text": text, "tokens": row["tokens"], "bits": row["bits"]})
    print(f"{i + 1}/{len(sentences)} {row['tokens']} tokens", file=sys.stderr)

digest = hashlib.sha256(open(model, "rb").read()).hexdigest()
fixture = {
    "model_sha256": digest,
    "reference": "llama.cpp 0c1e57098 (llama-cpp-python 0.3.36 sdist), AVX2-only build, llama-embedding -fa off "
                 "--embd-normalize 2, one sentence per batch",
    "cases": cases,
}
with open(os.path.join(root, "Tests/Fixtures/embeddings_minilm.json"), "w") as f:
    json.dump(fixture, f, indent=1, ensure_ascii=False)
    f.write("\n")
print(f"{len(cases)} sentences recorded; llama-embedding's printed values agree", file=sys.stderr)
