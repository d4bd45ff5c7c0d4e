/// Why a byte string could not be decoded. Decoding untrusted bytes never traps: every failure is one of these.
public enum CanonicalDecodingError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The input ended `needed` bytes short.
    case unexpectedEnd(needed: Int, remaining: Int)
    /// A length or count prefix larger than the bytes that remain, or than the field's limit.
    case lengthOutOfBounds(declared: UInt64, limit: Int)
    /// A tag byte that names no case of the type being decoded.
    case invalidTag(type: String, tag: UInt8)
    /// A string field whose bytes are not valid UTF-8.
    case invalidUTF8
    /// A value that decodes but breaks the type's own rule (e.g. a non-canonical key).
    case invalidValue(String)
    /// Bytes left over after a complete value: a second spelling of the same value is not allowed.
    case trailingBytes(count: Int)

    public var description: String {
        switch self {
        case .unexpectedEnd(let needed, let remaining):
            return "input ends early: needed \(needed) more byte(s), \(remaining) left"
        case .lengthOutOfBounds(let declared, let limit):
            return "declared length \(declared) exceeds the limit of \(limit)"
        case .invalidTag(let type, let tag): return "invalid tag \(tag) for \(type)"
        case .invalidUTF8: return "string is not valid UTF-8"
        case .invalidValue(let why): return "invalid value: \(why)"
        case .trailingBytes(let count): return "\(count) trailing byte(s) after the value"
        }
    }
}

/// Reads values in Agora's canonical binary encoding from untrusted bytes.
///
/// Every read checks the remaining length first, and every length or count prefix is bounded by the bytes
/// that remain before anything is allocated, so a hostile 4-byte prefix cannot make us allocate gigabytes.
public struct CanonicalReader: Sendable {
    public let bytes: [UInt8]
    public private(set) var offset: Int

    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
        self.offset = 0
    }

    public var remaining: Int { bytes.count - offset }
    public var isAtEnd: Bool { offset == bytes.count }

    /// Decodes one value that must span the whole input.
    public static func decode<Value: CanonicalDecodable>(
        _ type: Value.Type, from bytes: [UInt8]
    ) throws(CanonicalDecodingError) -> Value {
        var reader = CanonicalReader(bytes)
        let value = try Value(from: &reader)
        try reader.expectEnd()
        return value
    }

    public func expectEnd() throws(CanonicalDecodingError) {
        if remaining != 0 { throw .trailingBytes(count: remaining) }
    }

    private mutating func take(_ count: Int) throws(CanonicalDecodingError) -> ArraySlice<UInt8> {
        guard count <= remaining else { throw .unexpectedEnd(needed: count, remaining: remaining) }
        let slice = bytes[offset..<(offset + count)]
        offset += count
        return slice
    }

    private mutating func readBigEndian(width: Int) throws(CanonicalDecodingError) -> UInt64 {
        var value: UInt64 = 0
        for byte in try take(width) { value = (value << 8) | UInt64(byte) }
        return value
    }

    public mutating func readUInt8() throws(CanonicalDecodingError) -> UInt8 {
        try take(1).first!
    }

    public mutating func readBool() throws(CanonicalDecodingError) -> Bool {
        switch try readUInt8() {
        case 0: return false
        case 1: return true
        case let tag: throw .invalidTag(type: "Bool", tag: tag)
        }
    }

    public mutating func readUInt16() throws(CanonicalDecodingError) -> UInt16 {
        UInt16(try readBigEndian(width: 2))
    }

    public mutating func readUInt32() throws(CanonicalDecodingError) -> UInt32 {
        UInt32(try readBigEndian(width: 4))
    }

    public mutating func readUInt64() throws(CanonicalDecodingError) -> UInt64 {
        try readBigEndian(width: 8)
    }

    public mutating func readFixed(_ count: Int) throws(CanonicalDecodingError) -> [UInt8] {
        Array(try take(count))
    }

    /// Length-prefixed bytes, at most `limit` long.
    public mutating func readBytes(limit: Int = Int(UInt32.max)) throws(CanonicalDecodingError) -> [UInt8] {
        let declared = UInt64(try readUInt32())
        let bound = Swift.min(limit, remaining)
        guard declared <= UInt64(bound) else { throw .lengthOutOfBounds(declared: declared, limit: bound) }
        return Array(try take(Int(declared)))
    }

    /// A length-prefixed UTF-8 string of at most `limit` bytes.
    public mutating func readString(limit: Int = 1 << 16) throws(CanonicalDecodingError) -> String {
        let raw = try readBytes(limit: limit)
        guard let string = String(validating: raw, as: UTF8.self) else { throw .invalidUTF8 }
        return string
    }

    public mutating func read<Value: CanonicalDecodable>(
        _ type: Value.Type = Value.self
    ) throws(CanonicalDecodingError) -> Value {
        try Value(from: &self)
    }

    /// A count-prefixed array of at most `limit` elements. Each element takes at least one byte, so the count
    /// is also bounded by the remaining input before the array is allocated.
    public mutating func readArray<Value: CanonicalDecodable>(
        of type: Value.Type = Value.self, limit: Int
    ) throws(CanonicalDecodingError) -> [Value] {
        let declared = UInt64(try readUInt32())
        let bound = Swift.min(limit, remaining)
        guard declared <= UInt64(bound) else { throw .lengthOutOfBounds(declared: declared, limit: bound) }
        var values: [Value] = []
        values.reserveCapacity(Int(declared))
        for _ in 0..<declared { values.append(try Value(from: &self)) }
        return values
    }

    public mutating func readOptional<Value: CanonicalDecodable>(
        _ type: Value.Type = Value.self
    ) throws(CanonicalDecodingError) -> Value? {
        switch try readUInt8() {
        case 0: return nil
        case 1: return try Value(from: &self)
        case let tag: throw .invalidTag(type: "Optional<\(Value.self)>", tag: tag)
        }
    }
}
