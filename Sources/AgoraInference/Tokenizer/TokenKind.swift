/// The kind of a vocabulary entry (`tokenizer.ggml.token_type`).
enum TokenKind: Int32, Sendable {
    case normal = 1
    case unknown = 2
    /// BOS, EOS, `<|im_start|>`…: matched in prompt text only when special tokens are parsed.
    case control = 3
    /// Added tokens: always matched in text as a whole.
    case userDefined = 4
    case unused = 5
    case byte = 6

    /// Whether the token's text is written literally when decoded, rather than through the byte alphabet.
    var isLiteral: Bool { self == .control || self == .userDefined || self == .unknown }
}
