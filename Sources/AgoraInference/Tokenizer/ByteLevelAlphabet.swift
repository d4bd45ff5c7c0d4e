/// GPT-2's byte-level alphabet: each of the 256 byte values is written as one printable Unicode scalar, so
/// that every token of the vocabulary is a string and no byte sequence is unrepresentable.
///
/// Printable Latin-1 bytes (`!`…`~`, `¡`…`¬`, `®`…`ÿ`) stand for themselves; the other 68 bytes are
/// given the scalars U+0100 onwards, in byte order (so a space, 0x20, is written `Ġ`, U+0120).
enum ByteLevelAlphabet {
    /// The scalar that stands for each byte.
    static let scalarForByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            if (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte a scalar stands for, or nil for a scalar outside the alphabet.
    static func byte(for scalar: UInt32) -> UInt8? {
        if scalar < 256 {
            let byte = Int(scalar)
            let isSelf = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            return isSelf ? UInt8(byte) : nil
        }
        let index = Int(scalar) - 256
        return index < byteForHighScalar.count ? byteForHighScalar[index] : nil
    }

    /// Bytes for the scalars U+0100…U+0143, in order.
    private static let byteForHighScalar: [UInt8] = (0..<256).filter { scalarForByte[$0] >= 256 }.map { UInt8($0) }

    /// The bytes a vocabulary token's text stands for. A scalar outside the alphabet (absent from well-formed
    /// vocabularies) keeps its own UTF-8 bytes, where llama.cpp would write an `[UNK_BYTE_…]` marker.
    static func decode(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            if let byte = byte(for: scalar.value) {
                bytes.append(byte)
            } else {
                bytes.append(contentsOf: Array(String(scalar).utf8))
            }
        }
        return bytes
    }
}

extension ByteLevelAlphabet {
    /// `bytes` written in the byte-level alphabet (how a vocabulary spells the word).
    static func encode(_ bytes: UnsafeBufferPointer<UInt8>) -> String {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(Unicode.Scalar(scalarForByte[Int(byte)])!) }
        return String(text)
    }
}
