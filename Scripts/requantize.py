#!/usr/bin/env python3
"""Requantize the default model to Q8_0, Q4_0, Q6_K or a Q4_K_M / Q5_K_M mix with the `gguf` package (PyPI), for
the engine's llama.cpp fixture tests on machines without a llama.cpp build.

Every tensor's bytes equal what `llama-quantize --allow-requantize MODEL OUT Q8_0|Q4_0` writes (checked on
SmolLM2-135M-Instruct.Q4_1.gguf: 272 of 272 tensors identical for both types): the Q4_1 matrices are
dequantized and quantized again with ggml's reference rounding, the Q8_0 embedding stays Q8_0, F32 norms are
copied. Only the order of metadata keys and tensors differs from llama-quantize's file.

Q4_K_M follows llama-quantize's choice of types for this model (its 576-wide matrices cannot hold 256-element
superblocks, so they fall back to Q5_0 / Q8_0): ffn_down Q6_K in the "more bits" layers and Q4_K elsewhere,
attn_v Q8_0 in those layers and Q5_0 elsewhere, every other matrix Q5_0, the embedding Q8_0. The gguf package
cannot quantize K-quants, so Q4_K and Q6_K blocks come from the simple encoders below (per-group min/max
scales, not llama-quantize's search): the file is a valid Q4_K_M file, not byte-identical to llama-quantize's,
and the llama.cpp fixture for it is recorded on this exact file (its SHA-256 is in the fixture). Q5_K_M is the
same with Q5_K for Q4_K and Q5_1 for Q5_0, as llama-quantize picks them for this model. Q6_K makes every
matrix whose width is a multiple of 256 Q6_K (here the ffn_down matrices) and the others Q8_0, as
llama-quantize does; Q2_K and Q3_K do the same with their type and Q4_0 (what `llama-quantize --pure`
writes; llama-quantize's own Q2_K / Q3_K_M mixes hold no Q2_K / Q3_K tensor for this model's widths).

Usage: python3 Scripts/requantize.py SOURCE.gguf Q8_0|Q4_0|Q6_K|Q2_K|Q3_K|Q4_K_M|Q5_K_M OUT.gguf
"""
import os
import sys
import tempfile

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, GGUFValueType, GGUFWriter
from gguf.quants import dequantize, quantize

FILE_TYPES = {"Q8_0": 7, "Q4_0": 2, "Q4_K_M": 15, "Q5_K_M": 17, "Q6_K": 18, "Q2_K": 10, "Q3_K": 11}
MIXES = ("Q4_K_M", "Q5_K_M", "Q6_K", "Q2_K", "Q3_K")
# The type llama-quantize falls back to where a row cannot hold 256-element superblocks.
FALLBACK = {"Q6_K": T.Q8_0, "Q2_K": T.Q4_0, "Q3_K": T.Q4_0}


def f16(values: np.ndarray) -> np.ndarray:
    return values.astype(np.float16)


def round_half_even(values: np.ndarray) -> np.ndarray:
    return np.rint(values)


def quantize_q6_k(values: np.ndarray) -> np.ndarray:
    """Q6_K blocks (ggml's block_q6_K: ql[128], qh[64], int8 scales[16], f16 d) of rows of 256-multiples."""
    rows = values.reshape(-1, 256).astype(np.float32)
    groups = rows.reshape(-1, 16, 16)
    group_scale = np.abs(groups).max(axis=2) / 31
    d = f16(group_scale.max(axis=1) / 127)
    d32 = d.astype(np.float32)
    safe_d = np.where(d32 == 0, 1, d32)
    scales = np.clip(round_half_even(group_scale / safe_d[:, None]), -127, 127).astype(np.int8)
    step = d32[:, None] * scales.astype(np.float32)
    safe_step = np.where(step == 0, 1, step)
    q = np.where(step[:, :, None] == 0, 0, np.clip(round_half_even(groups / safe_step[:, :, None]), -32, 31))
    q = (q + 32).astype(np.uint8).reshape(-1, 2, 4, 32)  # [block][half][part][l]
    ql = np.zeros((q.shape[0], 2, 64), np.uint8)
    ql[:, :, :32] = (q[:, :, 0] & 15) | ((q[:, :, 2] & 15) << 4)
    ql[:, :, 32:] = (q[:, :, 1] & 15) | ((q[:, :, 3] & 15) << 4)
    qh = (q[:, :, 0] >> 4) | ((q[:, :, 1] >> 4) << 2) | ((q[:, :, 2] >> 4) << 4) | ((q[:, :, 3] >> 4) << 6)
    blocks = np.concatenate(
        [ql.reshape(-1, 128), qh.reshape(-1, 64), scales.view(np.uint8), d.reshape(-1, 1).view(np.uint8)], axis=1)
    return blocks.reshape(values.shape[0], -1)


def k_groups(values: np.ndarray, levels: int):
    """Per 32-element group of each 256-element superblock: the unsigned level grid of Q4_K / Q5_K. Returns the
    f16 d and dmin, the 6-bit scales and mins, and the levels q (0..levels) of every element."""
    groups = values.reshape(-1, 256).astype(np.float32).reshape(-1, 8, 32)
    low = np.minimum(groups.min(axis=2), 0)
    scale = (groups.max(axis=2) - low) / levels
    minimum = -low
    d, dmin = f16(scale.max(axis=1) / 63), f16(minimum.max(axis=1) / 63)
    d32, dmin32 = d.astype(np.float32), dmin.astype(np.float32)
    sc = np.clip(round_half_even(scale / np.where(d32 == 0, 1, d32)[:, None]), 0, 63).astype(np.uint8)
    mn = np.clip(round_half_even(minimum / np.where(dmin32 == 0, 1, dmin32)[:, None]), 0, 63).astype(np.uint8)
    step = d32[:, None] * sc.astype(np.float32)
    offset = dmin32[:, None] * mn.astype(np.float32)
    safe_step = np.where(step == 0, 1, step)
    q = np.where(step[:, :, None] == 0, 0,
                 np.clip(round_half_even((groups + offset[:, :, None]) / safe_step[:, :, None]), 0, levels))
    return d, dmin, sc, mn, q.astype(np.uint8)


def pack_scales_mins(sc: np.ndarray, mn: np.ndarray) -> np.ndarray:
    """The 12 bytes of eight 6-bit scales and mins, as ggml's get_scale_min_k4 reads them."""
    packed = np.zeros((sc.shape[0], 12), np.uint8)
    packed[:, 0:4] = (sc[:, 0:4] & 63) | ((sc[:, 4:8] >> 4) << 6)
    packed[:, 4:8] = (mn[:, 0:4] & 63) | ((mn[:, 4:8] >> 4) << 6)
    packed[:, 8:12] = (sc[:, 4:8] & 15) | ((mn[:, 4:8] & 15) << 4)
    return packed


def quantize_q4_k(values: np.ndarray) -> np.ndarray:
    """Q4_K blocks (ggml's block_q4_K: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, qs[128])."""
    d, dmin, sc, mn, q = k_groups(values, 15)
    pairs = q.reshape(-1, 4, 2, 32)
    qs = (pairs[:, :, 0] | (pairs[:, :, 1] << 4)).reshape(-1, 128)
    blocks = np.concatenate(
        [d.reshape(-1, 1).view(np.uint8), dmin.reshape(-1, 1).view(np.uint8), pack_scales_mins(sc, mn), qs], axis=1)
    return blocks.reshape(values.shape[0], -1)


def quantize_q5_k(values: np.ndarray) -> np.ndarray:
    """Q5_K blocks (ggml's block_q5_K: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, qh[32], qs[128])."""
    d, dmin, sc, mn, q = k_groups(values, 31)
    pairs = q.reshape(-1, 4, 2, 32)
    qs = ((pairs[:, :, 0] & 15) | ((pairs[:, :, 1] & 15) << 4)).reshape(-1, 128)
    qh = np.zeros((q.shape[0], 32), np.uint8)
    for g in range(8):
        qh |= ((q[:, g] >> 4) & 1) << g
    blocks = np.concatenate(
        [d.reshape(-1, 1).view(np.uint8), dmin.reshape(-1, 1).view(np.uint8), pack_scales_mins(sc, mn), qh, qs],
        axis=1)
    return blocks.reshape(values.shape[0], -1)


def quantize_q2_k(values: np.ndarray) -> np.ndarray:
    """Q2_K blocks (ggml's block_q2_K: 16 bytes of 4-bit scales and mins, qs[64], f16 d, f16 dmin)."""
    groups = values.reshape(-1, 256).astype(np.float32).reshape(-1, 16, 16)
    low = np.minimum(groups.min(axis=2), 0)
    scale = (groups.max(axis=2) - low) / 3
    minimum = -low
    d, dmin = f16(scale.max(axis=1) / 15), f16(minimum.max(axis=1) / 15)
    d32, dmin32 = d.astype(np.float32), dmin.astype(np.float32)
    sc = np.clip(round_half_even(scale / np.where(d32 == 0, 1, d32)[:, None]), 0, 15).astype(np.uint8)
    mn = np.clip(round_half_even(minimum / np.where(dmin32 == 0, 1, dmin32)[:, None]), 0, 15).astype(np.uint8)
    step = d32[:, None] * sc.astype(np.float32)
    offset = dmin32[:, None] * mn.astype(np.float32)
    safe = np.where(step == 0, 1, step)
    q = np.where(step[:, :, None] == 0, 0, np.clip(round_half_even((groups + offset[:, :, None]) / safe[:, :, None]), 0, 3))
    q = q.astype(np.uint8).reshape(-1, 2, 4, 32)  # element 128h + 32p + t -> [block][h][p][t]
    qs = (q[:, :, 0] | (q[:, :, 1] << 2) | (q[:, :, 2] << 4) | (q[:, :, 3] << 6)).reshape(-1, 64)
    blocks = np.concatenate(
        [sc | (mn << 4), qs, d.reshape(-1, 1).view(np.uint8), dmin.reshape(-1, 1).view(np.uint8)], axis=1)
    return blocks.reshape(values.shape[0], -1)


def quantize_q3_k(values: np.ndarray) -> np.ndarray:
    """Q3_K blocks (ggml's block_q3_K: hmask[32], qs[64], 12 bytes of 6-bit scales biased by 32, f16 d)."""
    groups = values.reshape(-1, 256).astype(np.float32).reshape(-1, 16, 16)
    group_scale = np.abs(groups).max(axis=2) / 4
    d = f16(group_scale.max(axis=1) / 31)
    d32 = d.astype(np.float32)
    sc = np.clip(round_half_even(group_scale / np.where(d32 == 0, 1, d32)[:, None]), 0, 31).astype(np.int32)
    step = d32[:, None] * sc.astype(np.float32)
    safe = np.where(step == 0, 1, step)
    q = np.where(step[:, :, None] == 0, 0, np.clip(round_half_even(groups / safe[:, :, None]), -4, 3)).astype(np.int32)
    stored = (q + 4).astype(np.uint8).reshape(-1, 2, 4, 32)  # [block][h][p][t]
    low, high = stored & 3, stored >> 2
    qs = (low[:, :, 0] | (low[:, :, 1] << 2) | (low[:, :, 2] << 4) | (low[:, :, 3] << 6)).reshape(-1, 64)
    hmask = np.zeros((stored.shape[0], 32), np.uint8)
    for h in range(2):
        for p in range(4):
            hmask |= high[:, h, p] << (4 * h + p)
    biased = (sc + 32).astype(np.uint8)  # 6 bits per group
    packed = np.zeros((biased.shape[0], 12), np.uint8)
    packed[:, 0:8] = (biased[:, 0:8] & 15) | ((biased[:, 8:16] & 15) << 4)
    for i in range(4):
        packed[:, 8 + i] = ((biased[:, i] >> 4) | ((biased[:, i + 4] >> 4) << 2) | ((biased[:, i + 8] >> 4) << 4)
                            | ((biased[:, i + 12] >> 4) << 6))
    blocks = np.concatenate([hmask, qs, packed, d.reshape(-1, 1).view(np.uint8)], axis=1)
    return blocks.reshape(values.shape[0], -1)


def more_bits(layer: int, layers: int) -> bool:
    """llama-quantize's use_more_bits: the first and last eighth of the layers and every third between."""
    return layer < layers // 8 or layer >= 7 * layers // 8 or (layer - layers // 8) % 3 == 2


def k_mix_type(name: str, layers: int, mix: str, width: int) -> T:
    """llama-quantize's types for Q4_K_M, Q5_K_M or Q6_K on this model's tensors."""
    if mix in FALLBACK:
        return T[mix] if width % 256 == 0 else FALLBACK[mix]
    five_bits = mix == "Q5_K_M"
    layer = int(name.split(".")[1]) if name.startswith("blk.") else -1
    base, fallback = (T.Q5_K, T.Q5_1) if five_bits else (T.Q4_K, T.Q5_0)
    if name.endswith("ffn_down.weight"):
        return T.Q6_K if more_bits(layer, layers) else base
    if name.endswith("attn_v.weight"):
        return T.Q8_0 if more_bits(layer, layers) else fallback
    return fallback


def encode(values: np.ndarray, kind: T) -> np.ndarray:
    if kind == T.Q6_K:
        return quantize_q6_k(values)
    if kind == T.Q2_K:
        return quantize_q2_k(values)
    if kind == T.Q3_K:
        return quantize_q3_k(values)
    if kind == T.Q4_K:
        return quantize_q4_k(values)
    if kind == T.Q5_K:
        return quantize_q5_k(values)
    return quantize(values, kind)


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[2] not in FILE_TYPES:
        sys.exit(__doc__)
    source, target_name, out = sys.argv[1], sys.argv[2], sys.argv[3]
    target = None if target_name in MIXES else T[target_name]
    reader = GGUFReader(source)
    layers = int(reader.fields[f"{reader.fields['general.architecture'].contents()}.block_count"].contents())
    arch = reader.fields["general.architecture"].contents()
    # Written to a temporary file and renamed, so an interrupted run never leaves a half file in the cache.
    directory = os.path.dirname(os.path.abspath(out))
    handle, temporary = tempfile.mkstemp(dir=directory, suffix=".partial")
    os.close(handle)
    writer = GGUFWriter(temporary, arch)
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == "general.architecture":
            continue
        if key == "general.file_type":
            writer.add_uint32(key, FILE_TYPES[target_name])
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == GGUFValueType.ARRAY else None
        writer.add_key_value(key, field.contents(), value_type, sub_type=sub_type)
    for tensor in reader.tensors:
        shape = [int(x) for x in reversed(tensor.shape)]
        if tensor.tensor_type == T.F32:
            data = np.asarray(tensor.data, dtype=np.float32).reshape(shape)
            writer.add_tensor(tensor.name, data)
            continue
        values = dequantize(tensor.data, tensor.tensor_type).reshape(shape)
        # The embedding keeps its own type (Q8_0), as llama-quantize keeps it.
        if tensor.tensor_type == T.Q8_0:
            kind = T.Q8_0
        elif target_name in MIXES:
            kind = k_mix_type(tensor.name, layers, target_name, shape[-1])
        else:
            kind = target
        writer.add_tensor(tensor.name, encode(values, kind), raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(temporary, out)


if __name__ == "__main__":
    main()
