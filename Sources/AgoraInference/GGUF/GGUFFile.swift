import Foundation

/// A GGUF model file: its metadata and tensor table, with tensor data read in place from a memory mapping.
///
/// The header is fully validated when the file is opened (every tensor lies inside the file, every type is
/// one the engine computes with), so later code can use `tensorBytes` without further checks.
public final class GGUFFile: @unchecked Sendable {
    // @unchecked: every stored property is immutable after init; the mapping is read-only.
    public let url: URL
    public let version: UInt32
    public let metadata: [String: GGUFValue]
    /// Metadata keys in file order.
    public let metadataOrder: [String]
    public let tensors: [String: GGUFTensorInfo]
    /// Tensor names in file order.
    public let tensorOrder: [String]
    /// The alignment of tensor data (`general.alignment`, default 32).
    public let alignment: Int
    /// Absolute offset of the tensor data section.
    public let dataOffset: Int
    private let region: MappedRegion

    /// Memory-maps the file at `url` and validates its header.
    public convenience init(url: URL) throws(GGUFError) {
        try self.init(region: try MappedRegion(url: url), url: url)
    }

    /// Reads a GGUF image held in memory (copied), e.g. one received over the network or built by a test.
    public convenience init(bytes: UnsafeRawBufferPointer, url: URL = URL(fileURLWithPath: "/dev/null"))
        throws(GGUFError)
    {
        try self.init(region: MappedRegion(copying: bytes), url: url)
    }

    private init(region: MappedRegion, url: URL) throws(GGUFError) {
        let header = try GGUFHeaderParser.parse(region.bytes)
        self.region = region
        self.url = url
        self.version = header.version
        self.metadata = header.metadata
        self.metadataOrder = header.metadataOrder
        self.tensors = header.tensors
        self.tensorOrder = header.tensorOrder
        self.alignment = header.alignment
        self.dataOffset = header.dataOffset
    }

    /// Size of the file in bytes.
    public var fileSize: Int { region.bytes.count }

    /// The bytes of a tensor of this file, valid while this object lives.
    public func tensorBytes(_ info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        precondition(
            info.offset >= 0 && info.byteCount >= 0 && info.offset <= fileSize - info.byteCount,
            "tensor \(info.name) does not belong to \(url.path)")
        return UnsafeRawBufferPointer(rebasing: region.bytes[info.offset..<info.offset + info.byteCount])
    }

    /// The tensor called `name`, or a typed error naming it.
    public func tensor(_ name: String) throws(GGUFError) -> GGUFTensorInfo {
        guard let info = tensors[name] else { throw .missingTensor(name) }
        return info
    }

    public func metadataInt(_ key: String) -> Int? { metadata[key]?.asInt }
    public func metadataFloat(_ key: String) -> Float? { metadata[key]?.asFloat }
    public func metadataString(_ key: String) -> String? { metadata[key]?.asString }
    public func metadataBool(_ key: String) -> Bool? { metadata[key]?.asBool }
    public func metadataArray(_ key: String) -> [GGUFValue]? { metadata[key]?.asArray }
}
