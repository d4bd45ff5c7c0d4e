/// One entry of a GGUF file's tensor table, already checked against the file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Extents, fastest-varying first (`ne0` first), as in the file.
    public let dimensions: [Int]
    public let type: GGMLType
    /// Absolute byte offset of the tensor's data in the file (the file stores it relative to the data section).
    public let offset: Int
    /// Bytes of the tensor's data.
    public let byteCount: Int

    public init(name: String, dimensions: [Int], type: GGMLType, offset: Int, byteCount: Int) {
        self.name = name
        self.dimensions = dimensions
        self.type = type
        self.offset = offset
        self.byteCount = byteCount
    }

    /// The number of elements; the reader checked at open time that this product does not overflow.
    public var elementCount: Int { dimensions.reduce(1, *) }

    /// Bytes of one row (`ne0` elements).
    public var rowByteCount: Int { dimensions.first.map { $0 / type.blockSize * type.bytesPerBlock } ?? 0 }
}
