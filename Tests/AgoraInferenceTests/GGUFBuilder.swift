@testable import AgoraInference

/// Writes small GGUF images for the reader's tests.
struct GGUFBuilder {
    struct Tensor {
        var name: String
        var dimensions: [Int]
        var type: GGMLType
        /// The raw type written to the file (defaults to `type`'s), to test unknown types.
        var rawType: UInt32? = nil
        /// The data offset written to the file; by default the next aligned offset.
        var offset: UInt64? = nil
    }

    var version: UInt32 = 3
    var metadata: [(String, GGUFValue)] = []
    var tensors: [Tensor] = []

    func bytes() -> [UInt8] {
        var out: [UInt8] = Array("GGUF".utf8)
        out += le(version)
        out += le(UInt64(tensors.count))
        out += le(UInt64(metadata.count))
        for (key, value) in metadata {
            writeString(key, to: &out)
            out += le(Self.typeTag(value))
            write(value, to: &out)
        }
        let alignment = metadata.first { $0.0 == "general.alignment" }?.1.asInt ?? 32
        var dataSize = 0
        var dataEnd = 0
        for tensor in tensors {
            writeString(tensor.name, to: &out)
            out += le(UInt32(tensor.dimensions.count))
            for d in tensor.dimensions { out += le(UInt64(d)) }
            out += le(tensor.rawType ?? tensor.type.rawValue)
            out += le(tensor.offset ?? UInt64(dataSize))
            let elements = tensor.dimensions.reduce(1) { $0.multipliedReportingOverflow(by: $1).partialValue }
            let size = elements / tensor.type.blockSize * tensor.type.bytesPerBlock
            // Data ends right after the last tensor, so cutting one byte truncates it.
            dataEnd = dataSize + size
            dataSize += (size + alignment - 1) / alignment * alignment
        }
        if alignment > 0 && alignment & (alignment - 1) == 0 {
            while out.count % alignment != 0 { out.append(0) }
        }
        if dataEnd < 1 << 20 {
            out += (0..<dataEnd).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        }
        return out
    }

    private func writeString(_ s: String, to out: inout [UInt8]) {
        out += le(UInt64(s.utf8.count))
        out += Array(s.utf8)
    }

    static func typeTag(_ value: GGUFValue) -> UInt32 {
        switch value {
        case .uint8: 0
        case .int8: 1
        case .uint16: 2
        case .int16: 3
        case .uint32: 4
        case .int32: 5
        case .float32: 6
        case .bool: 7
        case .string: 8
        case .array: 9
        case .uint64: 10
        case .int64: 11
        case .float64: 12
        }
    }

    private func write(_ value: GGUFValue, to out: inout [UInt8]) {
        switch value {
        case .uint8(let v): out += le(v)
        case .int8(let v): out += le(v)
        case .uint16(let v): out += le(v)
        case .int16(let v): out += le(v)
        case .uint32(let v): out += le(v)
        case .int32(let v): out += le(v)
        case .float32(let v): out += le(v.bitPattern)
        case .uint64(let v): out += le(v)
        case .int64(let v): out += le(v)
        case .float64(let v): out += le(v.bitPattern)
        case .bool(let v): out.append(v ? 1 : 0)
        case .string(let s): writeString(s, to: &out)
        case .array(let values):
            out += le(values.first.map(Self.typeTag) ?? 0)
            out += le(UInt64(values.count))
            for v in values { write(v, to: &out) }
        }
    }
}
