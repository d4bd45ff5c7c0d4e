/// Decodes UTF-8 into scalars while keeping each scalar's byte offset, which the tokenizer needs to map
/// pre-tokenizer words (scalar ranges) back to byte ranges.
enum UTF8Scalars {
    /// Calls `body(scalar, byteOffset)` for each scalar of `bytes[range]`. Malformed input (impossible for
    /// a Swift `String`) yields U+FFFD per offending byte, so offsets always advance.
    @inline(__always)
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, _ body: (UInt32, Int) -> Void) {
        var i = range.lowerBound
        let end = range.upperBound
        while i < end {
            let b0 = UInt32(bytes[i])
            if b0 < 0x80 {
                body(b0, i)
                i += 1
                continue
            }
            let length = b0 >= 0xF0 ? 4 : b0 >= 0xE0 ? 3 : b0 >= 0xC0 ? 2 : 0
            guard length > 0, i + length <= end else {
                body(0xFFFD, i)
                i += 1
                continue
            }
            var scalar = b0 & (0xFF >> UInt32(length + 1))
            var valid = true
            for k in 1..<length {
                let b = UInt32(bytes[i + k])
                if b & 0xC0 != 0x80 { valid = false }
                scalar = scalar << 6 | (b & 0x3F)
            }
            if valid {
                body(scalar, i)
                i += length
            } else {
                body(0xFFFD, i)
                i += 1
            }
        }
    }
}
