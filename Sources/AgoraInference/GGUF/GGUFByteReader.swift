/// A bounds-checked little-endian cursor over a GGUF header.
///
/// Every read checks the bytes left first, and every count is checked against the bytes left before
/// anything is allocated for it, so a hostile header can neither read out of bounds nor make the reader
/// allocate more than the file's size.
struct GGUFByteReader {
    let bytes: UnsafeRawBufferPointer
    private(set) var position: Int = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    var remaining: Int { bytes.count - position }

    private mutating func take(_ count: Int, _ context: @autoclosure () -> String) throws(GGUFError) -> Int {
        guard count >= 0, count <= remaining else {
            throw .truncated(offset: position, needed: count, context: context())
        }
        let start = position
        position += count
        return start
    }

    /// Reads a little-endian integer. Specialized per width (inlined), so no generic metadata is looked up
    /// per value: vocabularies hold ~100 000 values.
    @inline(__always)
    mutating func readInteger<T: FixedWidthInteger>(
        _: T.Type, _ context: @autoclosure () -> String
    ) throws(GGUFError) -> T {
        let size = MemoryLayout<T>.size
        guard size <= remaining else { throw .truncated(offset: position, needed: size, context: context()) }
        var value = T.zero
        withUnsafeMutableBytes(of: &value) { target in
            target.baseAddress!.copyMemory(from: bytes.baseAddress! + position, byteCount: size)
        }
        position += size
        return T(littleEndian: value)
    }

    @inline(__always)
    mutating func readUInt32(_ context: @autoclosure () -> String) throws(GGUFError) -> UInt32 {
        try readInteger(UInt32.self, context())
    }

    @inline(__always)
    mutating func readUInt64(_ context: @autoclosure () -> String) throws(GGUFError) -> UInt64 {
        try readInteger(UInt64.self, context())
    }

    /// Reads a count and checks that `count * minimumElementSize` bytes are left.
    mutating func readCount(
        minimumElementSize: Int, _ context: @autoclosure () -> String
    ) throws(GGUFError) -> Int {
        let raw = try readUInt64(context())
        let left = remaining
        guard raw <= UInt64(left / max(minimumElementSize, 1)) else {
            throw .countTooLarge(context: context(), count: raw, bytesLeft: left)
        }
        return Int(raw)
    }

    /// The longest string accepted: far above any real key, name, token or chat template, and a bound on the
    /// work one corrupted length field can cause (a length is otherwise bounded only by the file's size).
    static let maximumStringLength = 1 << 20

    /// Reads a GGUF string (u64 length + bytes). Invalid UTF-8 is repaired rather than refused: metadata text
    /// is informational, and tokenizer vocabularies of the supported kind are valid UTF-8.
    mutating func readString(_ context: @autoclosure () -> String) throws(GGUFError) -> String {
        let length = try readCount(minimumElementSize: 1, context())
        guard length <= Self.maximumStringLength else {
            throw .countTooLarge(context: "string \(context())", count: UInt64(length), bytesLeft: remaining)
        }
        let start = try take(length, context())
        guard length > 0 else { return "" }
        let text = UnsafeBufferPointer(
            start: bytes.baseAddress!.advanced(by: start).assumingMemoryBound(to: UInt8.self), count: length)
        return String(decoding: text, as: UTF8.self)
    }

    mutating func skip(_ count: Int, _ context: @autoclosure () -> String) throws(GGUFError) {
        _ = try take(count, context())
    }

    /// Advances to the next multiple of `alignment`, which may lie at the end of the buffer but not past it.
    mutating func align(to alignment: Int) throws(GGUFError) {
        let misalignment = position % alignment
        if misalignment != 0 { try skip(alignment - misalignment, "padding before tensor data") }
    }
}
