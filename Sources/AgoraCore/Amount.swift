/// Why arithmetic on amounts failed. Money code never wraps around or traps: it reports.
public enum AmountError: Error, Equatable, Sendable, CustomStringConvertible {
    case overflow
    case underflow(needed: Amount, available: Amount)
    case invalidText(String)

    public var description: String {
        switch self {
        case .overflow: return "amount overflow"
        case .underflow(let needed, let available): return "needed \(needed) but only \(available) available"
        case .invalidText(let text): return "not an amount: '\(text)' (use e.g. 12.5 or 12.5AGR or 12500000u)"
        }
    }
}

/// An amount of AGR in integer micro-units (`1 AGR = 1_000_000 µ`).
///
/// Integers, not floating point, so every node computes exactly the same balances; all arithmetic is
/// checked and throws instead of wrapping.
public struct Amount: Hashable, Comparable, Sendable, CanonicalCodable, CustomStringConvertible, Codable {
    public static let microUnitsPerAGR: UInt64 = 1_000_000
    public static let zero = Amount(microUnits: 0)

    public let microUnits: UInt64

    public init(microUnits: UInt64) { self.microUnits = microUnits }

    /// Whole AGR; throws when the result does not fit.
    public init(agr: UInt64) throws(AmountError) {
        let (value, overflow) = agr.multipliedReportingOverflow(by: Self.microUnitsPerAGR)
        if overflow { throw .overflow }
        self.microUnits = value
    }

    /// Parses `12`, `12.5`, `12.5AGR` (AGR with up to six decimals) or `12500000u` (micro-units).
    public init(parsing text: String) throws(AmountError) {
        var body = text.trimmingSpaces()
        if body.hasSuffix("u") || body.hasSuffix("µ") {
            body.removeLast()
            guard let micro = UInt64(body) else { throw .invalidText(text) }
            self.microUnits = micro
            return
        }
        if body.uppercased().hasSuffix("AGR") { body.removeLast(3) }
        let parts = body.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), let whole = UInt64(parts[0]) else { throw .invalidText(text) }
        var fraction: UInt64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy(\.isASCII), let value = UInt64(digits)
            else { throw .invalidText(text) }
            fraction = value
            for _ in digits.count..<6 { fraction *= 10 }
        }
        let (scaled, overflow) = whole.multipliedReportingOverflow(by: Self.microUnitsPerAGR)
        let (total, overflow2) = scaled.addingReportingOverflow(fraction)
        if overflow || overflow2 { throw .overflow }
        self.microUnits = total
    }

    public static func < (lhs: Amount, rhs: Amount) -> Bool { lhs.microUnits < rhs.microUnits }

    public var isZero: Bool { microUnits == 0 }

    public func adding(_ other: Amount) throws(AmountError) -> Amount {
        let (sum, overflow) = microUnits.addingReportingOverflow(other.microUnits)
        if overflow { throw .overflow }
        return Amount(microUnits: sum)
    }

    public func subtracting(_ other: Amount) throws(AmountError) -> Amount {
        guard other.microUnits <= microUnits else { throw .underflow(needed: other, available: self) }
        return Amount(microUnits: microUnits - other.microUnits)
    }

    /// `self × numerator / denominator`, rounded down, computed in 128 bits so it never overflows midway.
    public func scaled(by numerator: UInt64, over denominator: UInt64) -> Amount {
        precondition(denominator > 0 && numerator <= denominator, "scale factor must be a fraction ≤ 1")
        let product = microUnits.multipliedFullWidth(by: numerator)
        let (quotient, _) = denominator.dividingFullWidth(product)
        return Amount(microUnits: quotient)
    }

    /// `self × basisPoints / 10 000`, rounded down.
    public func basisPoints(_ bps: UInt16) -> Amount { scaled(by: UInt64(bps), over: 10_000) }

    public static func min(_ a: Amount, _ b: Amount) -> Amount { a < b ? a : b }

    /// `12.500000 AGR`: always six decimals, so amounts line up in tables.
    public var description: String {
        let whole = microUnits / Self.microUnitsPerAGR
        let fraction = String(microUnits % Self.microUnitsPerAGR)
        return "\(whole).\(String(repeating: "0", count: 6 - fraction.count))\(fraction) AGR"
    }

    public func encode(to writer: inout CanonicalWriter) { writer.write(microUnits) }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        microUnits = try reader.readUInt64()
    }

    /// JSON carries micro-units as an integer: exact, and unambiguous for scripts.
    public init(from decoder: any Decoder) throws {
        microUnits = try decoder.singleValueContainer().decode(UInt64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(microUnits)
    }
}

extension String {
    fileprivate func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}
