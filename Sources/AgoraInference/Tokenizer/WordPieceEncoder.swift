import Foundation

/// BERT's WordPiece as llama.cpp runs it (`tokenizer.ggml.model = "bert"`): the vocabulary as converted to
/// GGUF spells word-initial pieces with a leading "▁" and continuation pieces bare (HF's "##x" is "x"); the
/// text is normalized and split into words, and each word, with a "▁" in front, is covered greedily by the
/// longest pieces from the left. A word with an uncovered byte becomes the unknown token.
///
/// Normalization (BertNormalizer with lowercasing and accent stripping, llama.cpp's defaults): each code
/// point is mapped to the first code point of its canonical decomposition; whitespace ends a word; NUL,
/// U+FFFD, control/format/private-use code points (general category C, unassigned excepted) and combining
/// marks (M) are dropped; the rest is lowercased (the simple mapping); punctuation (P), ASCII symbols (S
/// below U+007F) and CJK ideographs stand alone as one-character words.
struct WordPieceEncoder: Sendable {
    private let pieces: [[UInt8]: Int32]
    private let unknown: Int32
    private let longestPiece: Int

    static let phantomSpace: [UInt8] = [0xE2, 0x96, 0x81]

    init(tokens: [String], unknown: Int32?) {
        var pieces: [[UInt8]: Int32] = [:]
        var longest = 0
        for (id, text) in tokens.enumerated() {
            let bytes = Array(text.utf8)
            if pieces[bytes] == nil { pieces[bytes] = Int32(id) }
            longest = max(longest, bytes.count)
        }
        self.pieces = pieces
        self.unknown = unknown ?? 0
        longestPiece = longest
    }

    func encode(_ text: Substring, into output: inout [Int32]) {
        for word in Self.words(text) {
            let bytes = Self.phantomSpace + Array(word.utf8)
            let start = output.count
            var i = 0
            while i < bytes.count {
                var end = min(bytes.count, i + longestPiece)
                var found: Int32?
                while end > i {
                    if let id = pieces[Array(bytes[i..<end])] {
                        found = id
                        break
                    }
                    end -= 1
                }
                guard let id = found else {
                    output.removeLast(output.count - start)
                    break
                }
                output.append(id)
                i = end
            }
            if output.count == start { output.append(unknown) }
        }
    }

    /// The normalized words of `text`.
    static func words(_ text: Substring) -> [String] {
        var words: [String] = []
        var current = String.UnicodeScalarView()
        func finish() {
            if !current.isEmpty {
                words.append(String(current))
                current = String.UnicodeScalarView()
            }
        }
        for original in text.unicodeScalars {
            let scalar = decomposedBase(original)
            let properties = scalar.properties
            if properties.isWhitespace {
                finish()
                continue
            }
            let category = properties.generalCategory
            switch category {
            case .control, .format, .privateUse, .surrogate: continue
            case .nonspacingMark, .spacingMark, .enclosingMark: continue
            default: break
            }
            if scalar.value == 0 || scalar.value == 0xFFFD { continue }
            let lower = lowercase(scalar)
            if isPunctuation(category) || (scalar.value < 0x7F && isSymbol(category)) || isCJK(scalar.value) {
                finish()
                words.append(String(lower))
            } else {
                current.append(lower)
            }
        }
        finish()
        return words
    }

    /// The first code point of the canonical decomposition (accents fall away as separate marks).
    static func decomposedBase(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        guard scalar.value >= 0xC0 else { return scalar }
        return String(scalar).decomposedStringWithCanonicalMapping.unicodeScalars.first ?? scalar
    }

    /// The simple lowercase mapping (one code point; the first of a longer full mapping).
    static func lowercase(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        if scalar.value < 0x80 {
            return (0x41...0x5A).contains(scalar.value) ? Unicode.Scalar(scalar.value + 32)! : scalar
        }
        return scalar.properties.lowercaseMapping.unicodeScalars.first ?? scalar
    }

    static func isPunctuation(_ category: Unicode.GeneralCategory) -> Bool {
        switch category {
        case .connectorPunctuation, .dashPunctuation, .closePunctuation, .finalPunctuation, .initialPunctuation,
            .otherPunctuation, .openPunctuation:
            return true
        default: return false
        }
    }

    static func isSymbol(_ category: Unicode.GeneralCategory) -> Bool {
        switch category {
        case .currencySymbol, .modifierSymbol, .mathSymbol, .otherSymbol: return true
        default: return false
        }
    }

    /// The CJK ideograph blocks BERT splits one character at a time (llama.cpp's `is_chinese_char`, which
    /// follows HF's tokenizers, 0x2B920 included).
    static func isCJK(_ value: UInt32) -> Bool {
        (0x4E00...0x9FFF).contains(value) || (0x3400...0x4DBF).contains(value) || (0x20000...0x2A6DF).contains(value)
            || (0x2A700...0x2B73F).contains(value) || (0x2B740...0x2B81F).contains(value)
            || (0x2B920...0x2CEAF).contains(value) || (0xF900...0xFAFF).contains(value)
            || (0x2F800...0x2FA1F).contains(value)
    }
}
