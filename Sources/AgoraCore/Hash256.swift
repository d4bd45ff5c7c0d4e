import Crypto

/// A SHA-256 digest: the content id of a model, a dataset, a request or an output, and the id of
/// transactions and blocks. Content ids name bytes, so anyone holding the bytes can check the name.
public struct Hash256: Hashable, Comparable, Sendable, CanonicalCodable, CustomStringConvertible, Codable {
    public static let byteCount = 32
    public static let zero = Hash256(uncheckedBytes: [UInt8](repeating: 0, count: 32))

    public let bytes: [UInt8]

    private init(uncheckedBytes: [UInt8]) { self.bytes = uncheckedBytes }

    /// Wraps exactly 32 bytes; nil for any other length.
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    public init?(hex: String) {
        guard let bytes = Hex.decode(hex) else { return nil }
        self.init(bytes: bytes)
    }

    /// SHA-256 of `data`.
    public static func of<Bytes: Sequence<UInt8>>(_ data: Bytes) -> Hash256 {
        var hasher = SHA256()
        hasher.update(data: Array(data))
        return Hash256(uncheckedBytes: Array(hasher.finalize()))
    }

    /// SHA-256 of a domain tag followed by `data`, so a hash made for one purpose can never be passed off
    /// as one made for another.
    public static func tagged<Bytes: Sequence<UInt8>>(_ tag: String, _ data: Bytes) -> Hash256 {
        var hasher = SHA256()
        hasher.update(data: Array(tag.utf8))
        hasher.update(data: [0])
        hasher.update(data: Array(data))
        return Hash256(uncheckedBytes: Array(hasher.finalize()))
    }

    /// 32 random bytes from the system's secure generator (job ids).
    public static func random() -> Hash256 {
        var generator = SystemRandomNumberGenerator()
        return Hash256(uncheckedBytes: (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) })
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
    /// The first 8 bytes in hex, for tables and logs.
    public var short: String { String(hex.prefix(16)) }

    public static func < (lhs: Hash256, rhs: Hash256) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    public func encode(to writer: inout CanonicalWriter) { writer.writeFixed(bytes) }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        bytes = try reader.readFixed(Self.byteCount)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let value = Hash256(hex: text) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: decoder.codingPath, debugDescription: "not a SHA-256 hex"))
        }
        self = value
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
