/// Appends values in Agora's canonical binary encoding (see `docs/encoding.md`).
///
/// Everything that is hashed or signed goes through this one encoding, so two honest parties always derive
/// the same bytes — and therefore the same ids and signatures — from the same value. Integers are
/// big-endian and fixed width, variable-length data carries a 32-bit length prefix, and there are no
/// optional fields or alternative spellings: one value has exactly one encoding.
public struct CanonicalWriter: Sendable {
    public private(set) var bytes: [UInt8]

    public init(reservingCapacity capacity: Int = 128) {
        bytes = []
        bytes.reserveCapacity(capacity)
    }

    public mutating func write(_ value: UInt8) { bytes.append(value) }

    public mutating func write(_ value: Bool) { bytes.append(value ? 1 : 0) }

    public mutating func write(_ value: UInt16) { appendBigEndian(UInt64(value), width: 2) }

    public mutating func write(_ value: UInt32) { appendBigEndian(UInt64(value), width: 4) }

    public mutating func write(_ value: UInt64) { appendBigEndian(value, width: 8) }

    /// Bytes whose length both sides know in advance (keys, hashes, signatures): no length prefix.
    public mutating func writeFixed<Bytes: Collection<UInt8>>(_ value: Bytes) { bytes.append(contentsOf: value) }

    /// Variable-length bytes: a `UInt32` length, then the bytes.
    public mutating func writeBytes<Bytes: Collection<UInt8>>(_ value: Bytes) {
        precondition(value.count <= Int(UInt32.max), "canonical byte strings are limited to 4 GiB")
        write(UInt32(value.count))
        bytes.append(contentsOf: value)
    }

    /// A string as its UTF-8 bytes with a length prefix.
    public mutating func write(_ value: String) { writeBytes(Array(value.utf8)) }

    /// An encodable value.
    public mutating func write<Value: CanonicalEncodable>(_ value: Value) { value.encode(to: &self) }

    /// An array: a `UInt32` element count, then each element.
    public mutating func write<Value: CanonicalEncodable>(_ values: [Value]) {
        write(UInt32(values.count))
        for value in values { value.encode(to: &self) }
    }

    /// An optional: tag 0 for absent, tag 1 followed by the value.
    public mutating func write<Value: CanonicalEncodable>(_ value: Value?) {
        if let value {
            write(UInt8(1))
            value.encode(to: &self)
        } else {
            write(UInt8(0))
        }
    }

    private mutating func appendBigEndian(_ value: UInt64, width: Int) {
        var shift = (width - 1) * 8
        while shift >= 0 {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
            shift -= 8
        }
    }
}
