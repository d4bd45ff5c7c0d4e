import Crypto

/// An Ed25519 public key: the identity of an account, a node, an agent or the sequencer.
///
/// Agora names accounts by their public key itself (not a hash of it), so a signature can be checked
/// from the address alone, offline.
public struct PublicKey: Hashable, Comparable, Sendable, CanonicalCodable, CustomStringConvertible, Codable {
    public static let byteCount = 32
    public let bytes: [UInt8]

    /// Wraps 32 bytes; nil for any other length. Whether they are a valid curve point is checked when a
    /// signature is verified (an invalid point verifies nothing).
    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    /// True when `signature` is this key's Ed25519 signature of `message`.
    public func isValidSignature(_ signature: Signature, for message: [UInt8]) -> Bool {
        guard let key = try? Curve25519.Signing.PublicKey(rawRepresentation: bytes) else { return false }
        return key.isValidSignature(signature.bytes, for: message)
    }

    public var address: Address { Address(publicKey: self) }
    public var description: String { address.description }

    public static func < (lhs: PublicKey, rhs: PublicKey) -> Bool { lhs.bytes.lexicographicallyPrecedes(rhs.bytes) }

    public func encode(to writer: inout CanonicalWriter) { writer.writeFixed(bytes) }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        bytes = try reader.readFixed(Self.byteCount)
    }

    /// JSON carries the printable address, whose checksum catches typos.
    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        do {
            self = try Address(parsing: text).publicKey
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "\(error)"))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(address.description)
    }
}

/// An Ed25519 signature (64 bytes).
public struct Signature: Hashable, Sendable, CanonicalCodable, Codable {
    public static let byteCount = 64
    public static let empty = Signature(unchecked: [UInt8](repeating: 0, count: 64))
    public let bytes: [UInt8]

    private init(unchecked: [UInt8]) { bytes = unchecked }

    public init?(bytes: [UInt8]) {
        guard bytes.count == Self.byteCount else { return nil }
        self.bytes = bytes
    }

    public var hex: String { Hex.encode(bytes) }

    public func encode(to writer: inout CanonicalWriter) { writer.writeFixed(bytes) }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        bytes = try reader.readFixed(Self.byteCount)
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let bytes = Hex.decode(text), bytes.count == Self.byteCount else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad signature"))
        }
        self.bytes = bytes
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(hex)
    }
}
