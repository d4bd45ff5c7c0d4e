/// A value with one canonical byte encoding (see `docs/encoding.md`).
public protocol CanonicalEncodable {
    func encode(to writer: inout CanonicalWriter)
}

/// A value that can be decoded from untrusted canonical bytes without trapping.
public protocol CanonicalDecodable {
    init(from reader: inout CanonicalReader) throws(CanonicalDecodingError)
}

public typealias CanonicalCodable = CanonicalEncodable & CanonicalDecodable

extension CanonicalEncodable {
    /// The value's canonical bytes.
    public var canonicalBytes: [UInt8] {
        var writer = CanonicalWriter()
        encode(to: &writer)
        return writer.bytes
    }
}

extension CanonicalDecodable {
    /// Decodes a value that must span all of `bytes`.
    public init(canonicalBytes bytes: [UInt8]) throws(CanonicalDecodingError) {
        self = try CanonicalReader.decode(Self.self, from: bytes)
    }
}

extension UInt64: CanonicalCodable {
    public func encode(to writer: inout CanonicalWriter) { writer.write(self) }
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) { self = try reader.readUInt64() }
}

extension UInt32: CanonicalCodable {
    public func encode(to writer: inout CanonicalWriter) { writer.write(self) }
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) { self = try reader.readUInt32() }
}

extension UInt16: CanonicalCodable {
    public func encode(to writer: inout CanonicalWriter) { writer.write(self) }
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) { self = try reader.readUInt16() }
}

extension String: CanonicalCodable {
    public func encode(to writer: inout CanonicalWriter) { writer.write(self) }
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) { self = try reader.readString() }
}
