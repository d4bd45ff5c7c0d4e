/// Turns a stream of token bytes into text, holding back an incomplete UTF-8 sequence at the end until the
/// next token completes it (byte-level BPE tokens often split a character). Invalid bytes become U+FFFD,
/// exactly as `String(decoding:as:)` would decode the whole byte stream at once.
struct UTF8StreamDecoder {
    private var pending: [UInt8] = []

    /// Appends bytes and returns the text that is complete so far.
    mutating func append(_ bytes: [UInt8]) -> String {
        pending.append(contentsOf: bytes)
        let cut = completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[0..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Returns whatever is left (an unfinished sequence decodes to U+FFFD).
    mutating func finish() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// The length of `bytes` without a trailing lead byte whose continuation bytes have not all arrived.
    private func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var i = n - 1
        var continuation = 0
        while i >= 0 && continuation < 3 && bytes[i] & 0xC0 == 0x80 {
            continuation += 1
            i -= 1
        }
        guard i >= 0 else { return n }
        let lead = bytes[i]
        let expected: Int
        if lead & 0xE0 == 0xC0 {
            expected = 1
        } else if lead & 0xF0 == 0xE0 {
            expected = 2
        } else if lead & 0xF8 == 0xF0 {
            expected = 3
        } else {
            return n
        }
        return continuation < expected ? i : n
    }
}
