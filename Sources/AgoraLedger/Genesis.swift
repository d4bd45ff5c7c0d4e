import AgoraCore

/// An initial balance.
public struct Allocation: Hashable, Sendable, CanonicalCodable, Codable {
    public var account: PublicKey
    public var amount: Amount

    public init(account: PublicKey, amount: Amount) {
        self.account = account
        self.amount = amount
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(account)
        writer.write(amount)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        account = try reader.read()
        amount = try reader.read()
    }
}

/// The chain's starting point: its rules, its sequencer, and the whole money supply as initial balances.
/// The supply is fixed here; afterwards money only moves (or is burnt, and counted as burnt).
public struct Genesis: Hashable, Sendable, CanonicalCodable, Codable {
    public var parameters: ChainParameters
    public var sequencer: PublicKey
    /// Milliseconds since 1970; the timestamp of block 0.
    public var timestamp: UInt64
    public var allocations: [Allocation]

    public init(parameters: ChainParameters, sequencer: PublicKey, timestamp: UInt64, allocations: [Allocation]) {
        self.parameters = parameters
        self.sequencer = sequencer
        self.timestamp = timestamp
        self.allocations = allocations
    }

    public var chainID: String { parameters.chainID }

    /// Σ allocations, or an error when it overflows or an account is listed twice.
    public func supply() throws(LedgerError) -> Amount {
        var total = Amount.zero
        var seen = Set<PublicKey>()
        for allocation in allocations {
            guard seen.insert(allocation.account).inserted else {
                throw .invalidGenesis("account \(allocation.account) is allocated twice")
            }
            do { total = try total.adding(allocation.amount) } catch { throw .invalidGenesis("supply overflows") }
        }
        return total
    }

    public var hash: Hash256 { Hash256.tagged("agora-genesis-v1", canonicalBytes) }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(parameters)
        writer.write(sequencer)
        writer.write(timestamp)
        writer.write(allocations)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        parameters = try reader.read()
        sequencer = try reader.read()
        timestamp = try reader.readUInt64()
        allocations = try reader.readArray(limit: 1 << 20)
    }
}
