import AgoraCore

/// One holder's part of a model's or dataset's revenue, in basis points (1/10 000).
public struct Share: Hashable, Sendable, CanonicalCodable, Codable {
    public var holder: PublicKey
    public var basisPoints: UInt16

    public init(holder: PublicKey, basisPoints: UInt16) {
        self.holder = holder
        self.basisPoints = basisPoints
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(holder)
        writer.write(basisPoints)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        holder = try reader.read()
        basisPoints = try reader.readUInt16()
    }
}

/// A revenue share table: distinct holders whose basis points sum to exactly 10 000.
///
/// Stored sorted by holder so that the same table always has the same bytes (and the same state root), and
/// so that the rounding dust of a split always goes to the same holder.
public enum ShareTable {
    public static let total: UInt32 = 10_000
    public static let maximumHolders = 64

    /// Checks and sorts a proposed table.
    public static func normalized(_ shares: [Share]) throws(TransactionError) -> [Share] {
        guard !shares.isEmpty, shares.count <= maximumHolders else {
            throw .invalidShareTable("a share table has 1 to \(maximumHolders) holders, got \(shares.count)")
        }
        var sum: UInt32 = 0
        for share in shares {
            guard share.basisPoints > 0 else { throw .invalidShareTable("a share of 0 basis points") }
            sum += UInt32(share.basisPoints)
        }
        guard sum == total else { throw .shareTableSum(sum) }
        let sorted = shares.sorted { $0.holder < $1.holder }
        for index in sorted.indices.dropFirst() where sorted[index].holder == sorted[index - 1].holder {
            throw .invalidShareTable("holder \(sorted[index].holder) appears twice")
        }
        return sorted
    }

    /// Splits `amount` by the table. Each holder gets its share rounded down; the rounding dust goes to the
    /// first holder, so the parts always add up to `amount` exactly.
    public static func split(_ amount: Amount, among shares: [Share]) -> [(PublicKey, Amount)] {
        var parts = shares.map { ($0.holder, amount.basisPoints($0.basisPoints)) }
        let distributed = parts.reduce(UInt64(0)) { $0 + $1.1.microUnits }
        if let first = parts.first {
            parts[0] = (first.0, Amount(microUnits: first.1.microUnits + (amount.microUnits - distributed)))
        }
        return parts
    }
}
