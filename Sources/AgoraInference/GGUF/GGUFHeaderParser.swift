/// What the header of a GGUF file says, checked against the file's size.
struct GGUFHeader: Sendable {
    var version: UInt32
    var metadata: [String: GGUFValue]
    var metadataOrder: [String]
    var tensors: [String: GGUFTensorInfo]
    var tensorOrder: [String]
    var alignment: Int
    /// Absolute offset of the tensor data section.
    var dataOffset: Int
}

/// Parses and validates the header of a GGUF file held in memory.
///
/// GGUF layout (v2/v3, little-endian): magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the
/// metadata key/value pairs, the tensor infos (name, u32 rank, u64 extents, u32 type, u64 offset relative to
/// the data section), padding to `general.alignment`, then the tensor data.
enum GGUFHeaderParser {
    static let magic: UInt32 = 0x4655_4747  // "GGUF" read little-endian
    static let defaultAlignment = 32
    static let maximumRank = 4  // GGML_MAX_DIMS
    static let maximumArrayNesting = 4
    /// The fewest bytes a metadata pair can take: key length, value type and a one-byte value.
    static let minimumKeyValueSize = 8 + 4 + 1
    /// The fewest bytes a tensor info can take: name length, rank, one extent, type, offset.
    static let minimumTensorInfoSize = 8 + 4 + 8 + 4 + 8

    static func parse(_ bytes: UnsafeRawBufferPointer) throws(GGUFError) -> GGUFHeader {
        var reader = GGUFByteReader(bytes)
        let magic = try reader.readUInt32("magic")
        guard magic == Self.magic else { throw .notGGUF(magic: magic) }
        let version = try reader.readUInt32("version")
        guard version == 2 || version == 3 else { throw .unsupportedVersion(version) }
        let tensorCount = try reader.readCount(minimumElementSize: minimumTensorInfoSize, "tensor")
        let metadataCount = try reader.readCount(minimumElementSize: minimumKeyValueSize, "metadata")

        var metadata: [String: GGUFValue] = [:]
        var metadataOrder: [String] = []
        metadata.reserveCapacity(metadataCount)
        metadataOrder.reserveCapacity(metadataCount)
        for _ in 0..<metadataCount {
            let key = try reader.readString("metadata key")
            let rawType = try reader.readUInt32("value type of \(key)")
            guard let type = GGUFValueType(rawValue: rawType) else { throw .invalidValueType(raw: rawType, key: key) }
            let value = try readValue(&reader, type: type, key: key, depth: 0)
            guard metadata.updateValue(value, forKey: key) == nil else { throw .duplicateKey(key) }
            metadataOrder.append(key)
        }

        let alignment = try alignment(in: metadata)

        var infos: [(name: String, dimensions: [Int], type: GGMLType, relativeOffset: UInt64, byteCount: Int)] = []
        infos.reserveCapacity(tensorCount)
        for _ in 0..<tensorCount {
            infos.append(try readTensorInfo(&reader))
        }

        // The data section starts at the next multiple of the alignment after the header.
        let headerEnd = reader.position
        let (padded, overflow) = headerEnd.addingReportingOverflow(alignment - 1)
        guard !overflow else { throw .truncated(offset: headerEnd, needed: alignment, context: "data section") }
        let dataOffset = padded / alignment * alignment

        var tensors: [String: GGUFTensorInfo] = [:]
        var tensorOrder: [String] = []
        tensors.reserveCapacity(infos.count)
        tensorOrder.reserveCapacity(infos.count)
        for info in infos {
            guard info.relativeOffset % UInt64(alignment) == 0 else {
                throw .misalignedTensor(name: info.name, offset: info.relativeOffset, alignment: alignment)
            }
            let outOfBounds = GGUFError.tensorOutOfBounds(
                name: info.name, offset: info.relativeOffset, byteCount: info.byteCount, fileSize: bytes.count)
            // dataOffset <= file size + alignment, so these sums are checked against overflow explicitly.
            guard info.relativeOffset <= UInt64(Int.max), dataOffset <= bytes.count else { throw outOfBounds }
            let (start, o1) = dataOffset.addingReportingOverflow(Int(info.relativeOffset))
            let (end, o2) = start.addingReportingOverflow(info.byteCount)
            guard !o1, !o2, end <= bytes.count else { throw outOfBounds }
            let tensor = GGUFTensorInfo(
                name: info.name, dimensions: info.dimensions, type: info.type, offset: start,
                byteCount: info.byteCount)
            guard tensors.updateValue(tensor, forKey: info.name) == nil else { throw .duplicateTensor(info.name) }
            tensorOrder.append(info.name)
        }

        return GGUFHeader(
            version: version, metadata: metadata, metadataOrder: metadataOrder, tensors: tensors,
            tensorOrder: tensorOrder, alignment: alignment, dataOffset: dataOffset)
    }

    private static func alignment(in metadata: [String: GGUFValue]) throws(GGUFError) -> Int {
        let key = "general.alignment"
        guard let value = metadata[key] else { return defaultAlignment }
        guard let alignment = value.asInt, alignment > 0, alignment <= 1 << 20, alignment & (alignment - 1) == 0
        else { throw .invalidAlignment(key: key, value: "\(value)") }
        return alignment
    }

    private static func readValue(
        _ reader: inout GGUFByteReader, type: GGUFValueType, key: String, depth: Int
    ) throws(GGUFError) -> GGUFValue {
        switch type {
        case .uint8: return .uint8(try reader.readInteger(UInt8.self, key))
        case .int8: return .int8(try reader.readInteger(Int8.self, key))
        case .uint16: return .uint16(try reader.readInteger(UInt16.self, key))
        case .int16: return .int16(try reader.readInteger(Int16.self, key))
        case .uint32: return .uint32(try reader.readInteger(UInt32.self, key))
        case .int32: return .int32(try reader.readInteger(Int32.self, key))
        case .uint64: return .uint64(try reader.readInteger(UInt64.self, key))
        case .int64: return .int64(try reader.readInteger(Int64.self, key))
        case .float32: return .float32(Float(bitPattern: try reader.readUInt32(key)))
        case .float64: return .float64(Double(bitPattern: try reader.readUInt64(key)))
        case .bool:
            // Any non-zero byte is true, as in ggml's reader.
            return .bool(try reader.readInteger(UInt8.self, key) != 0)
        case .string: return .string(try reader.readString(key))
        case .array:
            guard depth < maximumArrayNesting else { throw .nestingTooDeep(key: key) }
            let rawType = try reader.readUInt32("array element type of \(key)")
            guard let elementType = GGUFValueType(rawValue: rawType) else {
                throw .invalidValueType(raw: rawType, key: key)
            }
            let count = try reader.readCount(minimumElementSize: elementType.minimumEncodedSize, "array \(key)")
            var values: [GGUFValue] = []
            values.reserveCapacity(count)
            switch elementType {
            // Vocabularies are arrays of ~50 000 strings and integers: read them without the per-value switch.
            case .string:
                for _ in 0..<count { values.append(.string(try reader.readString(key))) }
            case .int32:
                for _ in 0..<count { values.append(.int32(try reader.readInteger(Int32.self, key))) }
            default:
                for _ in 0..<count {
                    values.append(try readValue(&reader, type: elementType, key: key, depth: depth + 1))
                }
            }
            return .array(values)
        }
    }

    private static func readTensorInfo(
        _ reader: inout GGUFByteReader
    ) throws(GGUFError) -> (name: String, dimensions: [Int], type: GGMLType, relativeOffset: UInt64, byteCount: Int) {
        let name = try reader.readString("tensor name")
        let rank = try reader.readUInt32("rank of tensor \(name)")
        guard rank >= 1, rank <= UInt32(maximumRank) else {
            throw .invalidTensorShape(name: name, reason: "rank \(rank) is not between 1 and \(maximumRank)")
        }
        var dimensions: [Int] = []
        dimensions.reserveCapacity(Int(rank))
        var elements = 1
        for _ in 0..<rank {
            let extent = try reader.readUInt64("extents of tensor \(name)")
            guard extent <= UInt64(Int64.max) else {
                throw .invalidTensorShape(name: name, reason: "extent \(extent) is out of range")
            }
            let (product, overflow) = elements.multipliedReportingOverflow(by: Int(extent))
            guard !overflow else { throw .invalidTensorShape(name: name, reason: "element count overflows") }
            elements = product
            dimensions.append(Int(extent))
        }
        let rawType = try reader.readUInt32("type of tensor \(name)")
        guard let type = GGMLType(rawValue: rawType) else { throw .unknownTensorType(name: name, raw: rawType) }
        guard type.isSupportedByEngine else { throw .unsupportedTensorType(name: name, type: type) }
        let relativeOffset = try reader.readUInt64("offset of tensor \(name)")

        guard dimensions[0] % type.blockSize == 0 else {
            throw .invalidTensorShape(
                name: name, reason: "row of \(dimensions[0]) is not a multiple of the \(type.name) block size")
        }
        // elements fits an Int, and (elements / blockSize) * bytesPerBlock is checked below.
        let blocks = elements / type.blockSize
        let (byteCount, overflow) = blocks.multipliedReportingOverflow(by: type.bytesPerBlock)
        guard !overflow else { throw .invalidTensorShape(name: name, reason: "byte size overflows") }
        return (name, dimensions, type, relativeOffset, byteCount)
    }
}
