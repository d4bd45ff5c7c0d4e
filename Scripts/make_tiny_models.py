#!/usr/bin/env python3
"""Builds small random-weight GGUFs for the engine's architecture tests, deterministically: `qwen2`, a
Llama-3-style `llama` with rotary frequency factors (`--variant llama3`), and a TinyLlama / Llama-2-style
`llama` with a SentencePiece vocabulary and F16 / BF16 weights (`--variant tinyllama`, whose tokenizer source
is llama.cpp's ggml-vocab-llama-spm.gguf).

Real tokenizer metadata (the default model's vocabulary) with arch `qwen2`: Q/K/V biases, NeoX rotary,
tied embeddings. Weights come from numpy's PCG64 with a fixed seed and are quantized to Q8_0 with the
`gguf` package (ggml's reference rounding), so the same bytes come out on every machine: the llama.cpp
fixture (Tests/Fixtures/generation_qwen2_tiny.json, made by `--fixture`) is recorded once on this file and
CI rebuilds the file to compare against it.

Usage:
  python3 Scripts/make_tiny_models.py DEFAULT_MODEL.gguf OUT.gguf
  python3 Scripts/make_tiny_models.py DEFAULT_MODEL.gguf OUT.gguf --fixture --llama-build /work/ref/build
  python3 Scripts/make_tiny_models.py DEFAULT_MODEL.gguf agora-tiny-llama3.gguf --variant llama3 [--fixture …]
  python3 Scripts/make_tiny_models.py ggml-vocab-llama-spm.gguf agora-tiny-tinyllama.gguf --variant tinyllama
The first argument is the file whose tokenizer metadata the model gets.
"""
import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, GGUFValueType, GGUFWriter
from gguf.quants import quantize

SEED = 20261126
WIDTH, HEADS, KV_HEADS, FFN, LAYERS, CONTEXT = 128, 4, 2, 256, 2, 512


SEEDS = {"qwen2": SEED, "llama3": SEED + 2, "tinyllama": SEED + 4}


def build(default_model: str, out: str, variant: str = "qwen2") -> None:
    """`qwen2`: biases and NeoX rotary. `llama3`: arch llama with a `rope_freqs.weight` tensor (Llama 3.1's
    per-pair frequency divisors; random here, so that every pair's angle changes and the test sees it).
    `tinyllama`: arch llama, SentencePiece vocabulary, attention and output matrices F16, embeddings and
    feed-forward BF16 (the two 16-bit float types), an untied output matrix."""
    source = GGUFReader(default_model)
    rng = np.random.default_rng(SEEDS[variant])
    qwen = variant == "qwen2"
    tiny_llama = variant == "tinyllama"
    directory = os.path.dirname(os.path.abspath(out))
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".partial")
    os.close(handle)
    writer = GGUFWriter(temporary, "qwen2" if qwen else "llama")
    writer.add_name(f"agora-tiny-{variant}-random")
    writer.add_uint32("general.file_type", 32 if tiny_llama else 7)
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(WIDTH)
    writer.add_feed_forward_length(FFN)
    writer.add_block_count(LAYERS)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(1_000_000.0 if qwen else 10_000.0 if tiny_llama else 500_000.0)
    writer.add_layer_norm_rms_eps(1e-5 if tiny_llama else 1e-6)
    for key, field in source.fields.items():
        if key.startswith("tokenizer."):
            value_type = field.types[0]
            sub_type = field.types[-1] if value_type == GGUFValueType.ARRAY else None
            writer.add_key_value(key, field.contents(), value_type, sub_type=sub_type)
    vocab = len(source.fields["tokenizer.ggml.tokens"].data)
    head_dim = WIDTH // HEADS

    def matrix(rows, columns, scale, kind=T.Q8_0):
        return quantize(rng.normal(0, scale, (rows, columns)).astype(np.float32), kind)

    attention_type = T.F16 if tiny_llama else T.Q8_0
    ffn_type = T.BF16 if tiny_llama else T.Q8_0

    def vector(count, mean, scale):
        return (mean + rng.normal(0, scale, count)).astype(np.float32)

    # Large enough weights that the logits spread out (greedy steps are not near-ties) and the biases matter.
    writer.add_tensor("token_embd.weight", matrix(vocab, WIDTH, 0.5, ffn_type), raw_dtype=ffn_type)
    for layer in range(LAYERS):
        p = f"blk.{layer}."
        writer.add_tensor(p + "attn_norm.weight", vector(WIDTH, 1.0, 0.1))
        writer.add_tensor(p + "attn_q.weight", matrix(HEADS * head_dim, WIDTH, 0.15, attention_type), raw_dtype=attention_type)
        if qwen:
            writer.add_tensor(p + "attn_q.bias", vector(HEADS * head_dim, 0.0, 0.5))
        writer.add_tensor(p + "attn_k.weight", matrix(KV_HEADS * head_dim, WIDTH, 0.15, attention_type), raw_dtype=attention_type)
        if qwen:
            writer.add_tensor(p + "attn_k.bias", vector(KV_HEADS * head_dim, 0.0, 0.5))
        writer.add_tensor(p + "attn_v.weight", matrix(KV_HEADS * head_dim, WIDTH, 0.15, attention_type), raw_dtype=attention_type)
        if qwen:
            writer.add_tensor(p + "attn_v.bias", vector(KV_HEADS * head_dim, 0.0, 0.5))
        writer.add_tensor(p + "attn_output.weight", matrix(WIDTH, HEADS * head_dim, 0.1, attention_type), raw_dtype=attention_type)
        writer.add_tensor(p + "ffn_norm.weight", vector(WIDTH, 1.0, 0.1))
        writer.add_tensor(p + "ffn_gate.weight", matrix(FFN, WIDTH, 0.15, ffn_type), raw_dtype=ffn_type)
        writer.add_tensor(p + "ffn_up.weight", matrix(FFN, WIDTH, 0.15, ffn_type), raw_dtype=ffn_type)
        writer.add_tensor(p + "ffn_down.weight", matrix(WIDTH, FFN, 0.1, ffn_type), raw_dtype=ffn_type)
    writer.add_tensor("output_norm.weight", vector(WIDTH, 1.0, 0.1))
    if tiny_llama:
        writer.add_tensor("output.weight", matrix(vocab, WIDTH, 0.5, T.F16), raw_dtype=T.F16)
    elif not qwen:
        writer.add_tensor("rope_freqs.weight", rng.uniform(0.25, 8.0, head_dim // 2).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(temporary, out)


TINYLLAMA_TEXTS = [
    "Hello world",
    "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nName three llamas. [/INST]",
    "  two spaces, a tab\tand a newline\n, then </s> inside",
    "Ünïcödé, 日本語 and 🦙 fall back to bytes",
]


def fixture(model: str, llama_build: str, variant: str = "qwen2") -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import make_fixtures as mf

    rng = np.random.default_rng(SEED + 1)
    source = GGUFReader(model)
    vocab = len(source.fields["tokenizer.ggml.tokens"].data)
    # Ordinary token ids (past the 17 special tokens), of varied lengths, and one long prompt for batching.
    prompts = [[int(x) for x in rng.integers(17, vocab, size=length)] for length in (1, 3, 8, 16, 40, 100)]
    # The SentencePiece model also gets text prompts, tokenized by llama.cpp: BOS, then llama_tokenize with
    # add_special=false and parse_special=true (what a prompt with add_special gives for this vocabulary).
    texts = TINYLLAMA_TEXTS if variant == "tinyllama" else []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        exe = mf.build_dumper(Path(llama_build), work)
        bos = int(source.fields["tokenizer.ggml.bos_token_id"].contents()) if texts else 0
        prompts += [[bos] + ids for ids in mf.tokenize_all(exe, model, texts, work)] if texts else []
        results = mf.generate_all(exe, model, prompts, work)
    cases = [{"prompt_ids": p, "generated": g, "top_logits": t} for p, (g, t) in zip(prompts, results)]
    for case, text in zip(cases[len(cases) - len(texts):], texts):
        case["prompt_text"] = text
    out = {
        "source": mf.llama_version(Path(llama_build)),
        "model": Path(model).name,
        "built_by": "python3 Scripts/make_tiny_models.py --variant %s" % Path(model).stem.split("-")[-1],
        "sha256": mf.sha256(model),
        "settings": {"threads": 1, "kv_cache": "f32", "flash_attention": False, "n_ctx": 512, "greedy": True},
        "cases": cases,
    }
    mf.write_json(mf.REPO / f"Tests/Fixtures/generation_{variant}_tiny.json", out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("default_model")
    parser.add_argument("out")
    parser.add_argument("--variant", choices=sorted(SEEDS), default="qwen2")
    parser.add_argument("--fixture", action="store_true", help="also record llama.cpp's generations on it")
    parser.add_argument("--llama-build")
    args = parser.parse_args()
    build(args.default_model, args.out, args.variant)
    if args.fixture:
        fixture(args.out, args.llama_build, args.variant)
