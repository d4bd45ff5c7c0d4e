#!/usr/bin/env python3
"""Requantize the default model to Q8_0 or Q4_0 with the `gguf` package (PyPI), for the engine's llama.cpp
fixture tests on machines without a llama.cpp build.

Every tensor's bytes equal what `llama-quantize --allow-requantize MODEL OUT Q8_0|Q4_0` writes (checked on
SmolLM2-135M-Instruct.Q4_1.gguf: 272 of 272 tensors identical for both types): the Q4_1 matrices are
dequantized and quantized again with ggml's reference rounding, the Q8_0 embedding stays Q8_0, F32 norms are
copied. Only the order of metadata keys and tensors differs from llama-quantize's file.

Usage: python3 Scripts/requantize.py SOURCE.gguf Q8_0|Q4_0 OUT.gguf
"""
import os
import sys
import tempfile

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, GGUFValueType, GGUFWriter
from gguf.quants import dequantize, quantize

FILE_TYPES = {"Q8_0": 7, "Q4_0": 2}


def main() -> None:
    if len(sys.argv) != 4 or sys.argv[2] not in FILE_TYPES:
        sys.exit(__doc__)
    source, target_name, out = sys.argv[1], sys.argv[2], sys.argv[3]
    target = T[target_name]
    reader = GGUFReader(source)
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
        kind = T.Q8_0 if tensor.tensor_type == T.Q8_0 else target
        writer.add_tensor(tensor.name, quantize(values, kind), raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(temporary, out)


if __name__ == "__main__":
    main()
