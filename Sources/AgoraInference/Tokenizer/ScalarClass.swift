/// The character classes the pre-tokenizer regexes use: `\p{L}`, `\p{N}` and `\s`.
///
/// Classes come from `Unicode.Scalar.Properties` (the general category for letters and numbers, the
/// White_Space property for `\s`), the same definitions llama.cpp's tables are generated from. ASCII, which
/// dominates most text, is served from a table.
enum ScalarClass {
    static let other: UInt8 = 0
    static let letter: UInt8 = 1
    static let number: UInt8 = 2
    static let whitespace: UInt8 = 4

    private static let ascii: [UInt8] = (0..<128).map { classifySlow(UInt32($0)) }

    @inline(__always)
    static func of(_ scalar: UInt32) -> UInt8 {
        scalar < 128 ? ascii[Int(scalar)] : classifySlow(scalar)
    }

    private static func classifySlow(_ value: UInt32) -> UInt8 {
        guard let scalar = Unicode.Scalar(value) else { return other }
        let properties = scalar.properties
        if properties.isWhitespace { return whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return letter
        case .decimalNumber, .letterNumber, .otherNumber: return number
        default: return other
        }
    }
}
