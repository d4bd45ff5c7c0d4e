/// Finds special tokens written in text, as llama.cpp does for prompts.
///
/// Special tokens are tried longest first; each one splits every remaining stretch of plain text at each of
/// its occurrences (leftmost first). Control and unknown tokens are matched only when special tokens are
/// parsed; user-defined tokens always are.
struct SpecialTokenSplitter: Sendable {
    struct Entry: Sendable {
        var id: Int32
        var bytes: [UInt8]
        var alwaysMatched: Bool
    }

    enum Piece {
        case text(Range<Int>)
        case token(Int32)
    }

    /// Longest first; among equal lengths, lowest id first.
    let entries: [Entry]

    init(entries: [Entry]) {
        self.entries = entries.filter { !$0.bytes.isEmpty }.sorted {
            $0.bytes.count != $1.bytes.count ? $0.bytes.count > $1.bytes.count : $0.id < $1.id
        }
    }

    func split(_ text: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> [Piece] {
        var pieces: [Piece] = [.text(0..<text.count)]
        for entry in entries where parseSpecial || entry.alwaysMatched {
            var next: [Piece] = []
            next.reserveCapacity(pieces.count)
            var changed = false
            for piece in pieces {
                guard case .text(let range) = piece else {
                    next.append(piece)
                    continue
                }
                var start = range.lowerBound
                while let match = Self.find(entry.bytes, in: text, from: start, to: range.upperBound) {
                    if match > start { next.append(.text(start..<match)) }
                    next.append(.token(entry.id))
                    start = match + entry.bytes.count
                    changed = true
                }
                if start < range.upperBound { next.append(.text(start..<range.upperBound)) }
            }
            if changed { pieces = next }
        }
        return pieces
    }

    private static func find(
        _ needle: [UInt8], in haystack: UnsafeBufferPointer<UInt8>, from start: Int, to end: Int
    ) -> Int? {
        let count = needle.count
        guard end - start >= count else { return nil }
        let first = needle[0]
        var i = start
        let last = end - count
        while i <= last {
            if haystack[i] == first {
                var j = 1
                while j < count && haystack[i + j] == needle[j] { j += 1 }
                if j == count { return i }
            }
            i += 1
        }
        return nil
    }
}
