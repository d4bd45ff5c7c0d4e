import CAgoraKernels

/// A weight matrix of `rows` outputs by `columns` inputs, copied out of the GGUF file at load time into the
/// layout the kernels read: quantized rows (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0; Q2_K to Q6_K in ggml's blocks) or float rows kept in the file's format (F32, F16, BF16), because llama.cpp multiplies those
/// in their own precision.
///
/// Several tensors with the same input width and type can be stacked into one matrix (Q, K and V; gate and
/// up), so one kernel call computes them all: each output element is still the same single dot product.
final class WeightMatrix: @unchecked Sendable {
    enum Storage {
        case quantized(agora_weight_type, UnsafeMutableRawPointer)
        case float(agora_float_format, UnsafeMutableRawPointer)
    }

    let rows: Int
    let columns: Int
    let storage: Storage

    /// Stacks `tensors` (all of one type and width) row-wise.
    init(gguf: GGUFFile, tensors: [GGUFTensorInfo]) throws(ModelLoadError) {
        guard let first = tensors.first else { throw .invalidShape(name: "(none)", reason: "no tensors") }
        let columns = first.dimensions[0]
        var rows = 0
        for info in tensors {
            guard info.dimensions.count == 2 else {
                throw .invalidShape(name: info.name, reason: "expected a matrix, found \(info.dimensions)")
            }
            guard info.type == first.type, info.dimensions[0] == columns else {
                throw .invalidShape(name: info.name, reason: "cannot be stacked with \(first.name)")
            }
            rows += info.dimensions[1]
        }
        self.rows = rows
        self.columns = columns
        switch first.type {
        case .q4_0, .q4_1, .q8_0, .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K:
            let block = first.type.blockSize
            guard columns % block == 0 else {
                throw .invalidShape(name: first.name, reason: "row length \(columns) is not a multiple of \(block)")
            }
            let type = agora_weight_type(first.type.rawValue)
            let rowBytes = agora_row_bytes(type, Int32(columns))
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: rowBytes * rows, alignment: 64)
            var row = 0
            for info in tensors {
                let source = gguf.tensorBytes(info)
                agora_repack_rows(
                    agora_weight_type(first.type.rawValue), source.baseAddress!, buffer + row * rowBytes,
                    Int32(info.dimensions[1]), Int32(columns))
                row += info.dimensions[1]
            }
            storage = .quantized(type, buffer)
        case .f32, .f16, .bf16:
            let format = agora_float_format(first.type.rawValue)
            let elementBytes = agora_float_element_bytes(format)
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: rows * columns * elementBytes, alignment: 64)
            var offset = 0
            for info in tensors {
                let source = gguf.tensorBytes(info)
                let count = info.elementCount * elementBytes
                (buffer + offset).copyMemory(from: source.baseAddress!, byteCount: count)
                offset += count
            }
            storage = .float(format, buffer)
        default:
            throw .unsupportedType(name: first.name, type: first.type)
        }
    }

    deinit {
        switch storage {
        case .quantized(_, let pointer): pointer.deallocate()
        case .float(_, let pointer): pointer.deallocate()
        }
    }

    /// Whether the kernels need the input quantized to 8-bit blocks.
    var isQuantized: Bool {
        if case .quantized = storage { return true }
        return false
    }

    /// The 16-bit format the input must be rounded to (F16 and BF16 matrices), nil otherwise.
    var halfInputFormat: agora_float_format? {
        if case .float(let format, _) = storage, format != AGORA_FLOAT_F32 { return format }
        return nil
    }

    /// Whether the input must be quantized to Q8_K superblocks (K-quants) rather than 32-element blocks.
    var usesSuperblocks: Bool {
        if case .quantized(let type, _) = storage { return agora_weight_is_kquant(type) != 0 }
        return false
    }

    /// Writes row `row` as floats (the embedding lookup), exactly as ggml dequantizes it.
    func dequantizeRow(_ row: Int, into out: UnsafeMutablePointer<Float>) {
        switch storage {
        case .quantized(let type, let pointer):
            let rowBytes = agora_row_bytes(type, Int32(columns))
            agora_dequantize_row(type, pointer + row * rowBytes, out, Int32(columns))
        case .float(let format, let pointer):
            let bytes = UnsafeRawBufferPointer(
                start: pointer + row * columns * agora_float_element_bytes(format),
                count: columns * agora_float_element_bytes(format))
            Self.convertToFloat(bytes, type: GGMLType(rawValue: format.rawValue)!, count: columns, into: out)
        }
    }

    static func convertToFloat(
        _ bytes: UnsafeRawBufferPointer, type: GGMLType, count: Int, into out: UnsafeMutablePointer<Float>
    ) {
        if type == .f32 {
            for i in 0..<count { out[i] = bytes.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
        } else if type == .bf16 {
            for i in 0..<count {
                out[i] = Float(bitPattern: UInt32(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)) << 16)
            }
        } else {
            for i in 0..<count {
                out[i] = agora_f16_to_f32(bytes.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self))
            }
        }
    }
}
