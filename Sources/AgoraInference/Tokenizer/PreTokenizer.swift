/// Splits text into the words that BPE merges within, as the regex named by `tokenizer.ggml.pre` would.
///
/// The regexes are hand-written as scanners over Unicode scalars rather than run through
/// NSRegularExpression: Foundation's engine is slow on long inputs, its `\p{L}`/`\s` classes and its
/// lookahead handling differ in corner cases from the scanners llama.cpp uses for these patterns (whose
/// output the model was converted and tested against), and a scanner is linear-time on any input. Each
/// scanner follows one pattern's alternatives in order:
///
/// - `gpt2`: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// - `smollm` (also StarCoder): every `\p{N}` scalar is first split off on its own, then `gpt2` runs on the
///   pieces between (so numbers are tokenized digit by digit).
/// - `llama3`: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
///   \s*[\r\n]+|\s+(?!\S)|\s+`
/// - `qwen2`: as `llama3` with `\p{N}` (one digit) instead of `\p{N}{1,3}`.
///
/// Lookahead and anchors see only the current piece, as in llama.cpp, where each regex runs on the pieces
/// the previous one produced.
enum PreTokenizer: Sendable, Equatable {
    case gpt2
    case smollm
    case llama3
    case qwen2

    /// The `tokenizer.ggml.pre` names served, with the scanner each maps to.
    static let byName: [String: PreTokenizer] = [
        "gpt2": .gpt2, "gpt-2": .gpt2,
        "smollm": .smollm, "starcoder": .smollm,
        "llama3": .llama3, "llama-v3": .llama3, "llama-bpe": .llama3,
        "qwen2": .qwen2, "deepseek-r1-qwen": .qwen2,
    ]

    static var supportedNames: [String] { byName.keys.sorted() }

    /// Whether a word that is itself a vocabulary token skips the merges (llama.cpp's `ignore_merges`).
    var ignoresMerges: Bool { self == .llama3 }

    /// Calls `word` with each word's scalar range, in order, covering `0..<scalars.count` exactly.
    func split(_ scalars: [UInt32], _ classes: [UInt8], word: (Range<Int>) -> Void) {
        switch self {
        case .gpt2:
            Self.gpt2(scalars, classes, 0..<scalars.count, word)
        case .smollm:
            var start = 0
            for i in 0..<scalars.count where classes[i] == ScalarClass.number {
                if start < i { Self.gpt2(scalars, classes, start..<i, word) }
                word(i..<i + 1)
                start = i + 1
            }
            if start < scalars.count { Self.gpt2(scalars, classes, start..<scalars.count, word) }
        case .llama3:
            Self.llama3(scalars, classes, 0..<scalars.count, maximumDigits: 3, word)
        case .qwen2:
            Self.llama3(scalars, classes, 0..<scalars.count, maximumDigits: 1, word)
        }
    }

    private static let apostrophe = UInt32(UInt8(ascii: "'"))
    private static let space = UInt32(UInt8(ascii: " "))
    private static let cr = UInt32(UInt8(ascii: "\r"))
    private static let lf = UInt32(UInt8(ascii: "\n"))

    /// The length of a contraction (`'s`, `'t`, `'re`, `'ve`, `'m`, `'ll`, `'d`) at `pos`, or 0.
    private static func contraction(
        _ scalars: [UInt32], at pos: Int, end: Int, caseInsensitive: Bool
    ) -> Int {
        guard scalars[pos] == apostrophe, pos + 1 < end else { return 0 }
        func lower(_ v: UInt32) -> UInt32 { caseInsensitive && v >= 0x41 && v <= 0x5A ? v + 0x20 : v }
        let next = lower(scalars[pos + 1])
        switch next {
        case 0x73, 0x74, 0x6D, 0x64: return 2  // s t m d
        default: break
        }
        guard pos + 2 < end else { return 0 }
        let third = lower(scalars[pos + 2])
        switch (next, third) {
        case (0x72, 0x65), (0x76, 0x65), (0x6C, 0x6C): return 3  // re ve ll
        default: return 0
        }
    }

    private static func gpt2(
        _ scalars: [UInt32], _ classes: [UInt8], _ range: Range<Int>, _ word: (Range<Int>) -> Void
    ) {
        let end = range.upperBound
        @inline(__always) func cls(_ i: Int) -> UInt8? { i < end ? classes[i] : nil }
        var pos = range.lowerBound
        while pos < end {
            let start = pos
            let length = contraction(scalars, at: pos, end: end, caseInsensitive: false)
            if length > 0 {
                pos += length
                word(start..<pos)
                continue
            }
            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: the class after an optional leading space.
            let leadingSpace = scalars[pos] == space
            if let first = leadingSpace ? cls(pos + 1) : classes[pos], first != ScalarClass.whitespace {
                pos += leadingSpace ? 1 : 0
                while let c = cls(pos), c == first { pos += 1 }
                word(start..<pos)
                continue
            }
            var spaces = 0
            while cls(pos + spaces) == ScalarClass.whitespace { spaces += 1 }
            if spaces > 1 && pos + spaces < end {
                pos += spaces - 1  // `\s+(?!\S)`: leave the last space to lead the next word
            } else if spaces > 0 {
                pos += spaces
            } else {
                pos += 1
            }
            word(start..<pos)
        }
    }

    private static func llama3(
        _ scalars: [UInt32], _ classes: [UInt8], _ range: Range<Int>, maximumDigits: Int,
        _ word: (Range<Int>) -> Void
    ) {
        let end = range.upperBound
        @inline(__always) func cls(_ i: Int) -> UInt8? { i < end ? classes[i] : nil }
        var pos = range.lowerBound
        while pos < end {
            let start = pos
            let scalar = scalars[pos]
            let c = classes[pos]
            let length = contraction(scalars, at: pos, end: end, caseInsensitive: true)
            if length > 0 {
                pos += length
                word(start..<pos)
                continue
            }
            // `[^\r\n\p{L}\p{N}]?\p{L}+`
            if scalar != cr && scalar != lf && c != ScalarClass.number
                && (c == ScalarClass.letter || cls(pos + 1) == ScalarClass.letter)
            {
                pos += 1
                while cls(pos) == ScalarClass.letter { pos += 1 }
                word(start..<pos)
                continue
            }
            // `\p{N}{1,maximumDigits}`
            if c == ScalarClass.number {
                var groupStart = pos
                while cls(pos) == ScalarClass.number {
                    pos += 1
                    if pos - groupStart >= maximumDigits {
                        word(groupStart..<pos)
                        groupStart = pos
                    }
                }
                if groupStart < pos { word(groupStart..<pos) }
                continue
            }
            // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
            let leadingSpace = scalar == space
            if let next = leadingSpace ? cls(pos + 1) : c, next == ScalarClass.other {
                pos += leadingSpace ? 1 : 0
                while cls(pos) == ScalarClass.other { pos += 1 }
                while pos < end && (scalars[pos] == cr || scalars[pos] == lf) { pos += 1 }
                word(start..<pos)
                continue
            }
            var spaces = 0
            var afterLastNewline = 0
            while cls(pos + spaces) == ScalarClass.whitespace {
                let s = scalars[pos + spaces]
                if s == cr || s == lf { afterLastNewline = pos + spaces + 1 }
                spaces += 1
            }
            if afterLastNewline > 0 {
                pos = afterLastNewline  // `\s*[\r\n]+`
            } else if spaces > 1 && pos + spaces < end {
                pos += spaces - 1  // `\s+(?!\S)`
            } else if spaces > 0 {
                pos += spaces
            } else {
                pos += 1
            }
            word(start..<pos)
        }
    }
}
