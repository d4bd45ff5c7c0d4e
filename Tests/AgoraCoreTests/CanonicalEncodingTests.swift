import AgoraCore
import PropertyBased
import Testing

/// A value with every kind of field, to exercise the reader on hostile input.
private struct Sample: CanonicalCodable, Equatable {
    var flag: Bool
    var small: UInt16
    var big: UInt64
    var name: String
    var hashes: [Hash256]
    var owner: PublicKey?

    func encode(to writer: inout CanonicalWriter) {
        writer.write(flag)
        writer.write(small)
        writer.write(big)
        writer.write(name)
        writer.write(hashes)
        writer.write(owner)
    }

    init(flag: Bool, small: UInt16, big: UInt64, name: String, hashes: [Hash256], owner: PublicKey?) {
        self.flag = flag
        self.small = small
        self.big = big
        self.name = name
        self.hashes = hashes
        self.owner = owner
    }

    init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        flag = try reader.readBool()
        small = try reader.readUInt16()
        big = try reader.readUInt64()
        name = try reader.readString(limit: 256)
        hashes = try reader.readArray(limit: 16)
        owner = try reader.readOptional()
    }
}

@Suite struct CanonicalEncodingTests {
    @Test func integersAreBigEndianAndFixedWidth() {
        var writer = CanonicalWriter()
        writer.write(UInt16(0x0102))
        writer.write(UInt32(0x0304_0506))
        writer.write(UInt64(7))
        writer.write("hé")
        #expect(writer.bytes == [1, 2, 3, 4, 5, 6, 0, 0, 0, 0, 0, 0, 0, 7, 0, 0, 0, 3, 0x68, 0xC3, 0xA9])
    }

    @Test func roundTripsAndRejectsTrailingBytes() async {
        await propertyCheck(
            count: 1_000, input: Gen.uint64(), Gen.letterOrNumber.string(of: 0...40), Gen.int(in: 0...16)
        ) {
            big, name, count in
            let sample = Sample(
                flag: big % 2 == 0, small: UInt16(truncatingIfNeeded: big), big: big, name: name,
                hashes: (0..<count).map { Hash256.of([UInt8($0)]) },
                owner: count % 3 == 0 ? nil : SigningKey(deterministicLabel: name).publicKey)
            let bytes = sample.canonicalBytes
            let decoded = try Sample(canonicalBytes: bytes)
            #expect(decoded == sample)
            let padded = bytes + [0]
            #expect(throws: CanonicalDecodingError.trailingBytes(count: 1)) { try Sample(canonicalBytes: padded) }
        }
    }

    /// 100 000 random and mutated inputs: decoding either succeeds with a value whose encoding is exactly the
    /// input (one value, one spelling) or fails with a typed error. It never traps.
    @Test func decodingHostileBytesNeverCrashes() {
        var generator = SystemRandomNumberGenerator()
        let base = Sample(
            flag: true, small: 9, big: 1 << 40, name: "model-name",
            hashes: [Hash256.of([1]), Hash256.of([2])], owner: SigningKey(deterministicLabel: "o").publicKey
        ).canonicalBytes
        var decoded = 0
        var refused = 0
        for round in 0..<100_000 {
            var bytes: [UInt8]
            if round % 4 == 0 {
                bytes = (0..<Int.random(in: 0...200, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
            } else {
                bytes = base
                for _ in 0..<Int.random(in: 1...4, using: &generator) {
                    switch Int.random(in: 0..<3, using: &generator) {
                    case 0:
                        bytes[Int.random(in: 0..<bytes.count, using: &generator)] = UInt8.random(
                            in: 0...255, using: &generator)
                    case 1: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
                    default:
                        bytes.insert(
                            UInt8.random(in: 0...255, using: &generator),
                            at: Int.random(in: 0...bytes.count, using: &generator))
                    }
                    if bytes.isEmpty { break }
                }
            }
            do {
                let value = try Sample(canonicalBytes: bytes)
                #expect(value.canonicalBytes == bytes)
                decoded += 1
            } catch {
                refused += 1
            }
        }
        #expect(decoded + refused == 100_000)
        #expect(refused > 50_000)
    }

    @Test func hugeDeclaredLengthsDoNotAllocate() {
        // A 4-byte prefix claiming 4 GiB must be refused by the bound on the remaining input.
        var reader = CanonicalReader([0xFF, 0xFF, 0xFF, 0xFF, 1, 2])
        #expect(throws: CanonicalDecodingError.lengthOutOfBounds(declared: 0xFFFF_FFFF, limit: 2)) {
            try reader.readBytes()
        }
        var arrays = CanonicalReader([0x7F, 0xFF, 0xFF, 0xFF])
        #expect(throws: CanonicalDecodingError.self) { try arrays.readArray(of: Hash256.self, limit: 1 << 30) }
    }

    @Test func invalidUTF8AndBadTagsAreTyped() {
        var reader = CanonicalReader([0, 0, 0, 2, 0xC3, 0x28])
        #expect(throws: CanonicalDecodingError.invalidUTF8) { try reader.readString() }
        var flag = CanonicalReader([2])
        #expect(throws: CanonicalDecodingError.invalidTag(type: "Bool", tag: 2)) { try flag.readBool() }
    }
}
