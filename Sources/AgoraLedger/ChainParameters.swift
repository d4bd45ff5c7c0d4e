import AgoraCore

/// The rules of one chain, fixed at genesis. Everything that replaying the chain needs is here, so a
/// verifier with the genesis file and the blocks reaches the same state as the sequencer.
public struct ChainParameters: Hashable, Sendable, CanonicalCodable, Codable {
    /// Names the chain in every signed object, so a signature for one chain is worthless on another.
    public var chainID: String
    /// Blocks between `unstake` and the stake returning to the balance; slashing still reaches it meanwhile.
    public var unbondingDelayBlocks: UInt64
    /// Blocks between `withdraw` and the deposit returning to the balance; vouchers can still be settled
    /// against it meanwhile, which is what protects a node that served on a voucher.
    public var withdrawalDelayBlocks: UInt64
    /// Stake a node needs to be listed in the market.
    public var minimumNodeStake: Amount
    /// What a challenger locks when filing; lost to the node if the challenge has no merit.
    public var challengeBond: Amount
    /// Blocks after settlement during which a job can be challenged.
    public var challengeWindowBlocks: UInt64
    /// Part of a losing node's stake (including unbonding stake) that is slashed.
    public var slashBasisPoints: UInt16
    /// Part of what remains of the slashed amount, after refunding the payer, that goes to the challenger;
    /// the rest is burnt.
    public var challengerBountyBasisPoints: UInt16
    /// Seconds after a voucher's expiry during which the node may still settle it.
    public var settlementGraceSeconds: UInt64
    /// The key allowed to resolve challenges (it re-executes the job with the registered model).
    public var referee: PublicKey

    /// JSON spells identifiers `chainId` / `jobId`, like the x402 terms (docs/protocol.md §2.6).
    enum CodingKeys: String, CodingKey {
        case chainID = "chainId"
        case unbondingDelayBlocks
        case withdrawalDelayBlocks
        case minimumNodeStake
        case challengeBond
        case challengeWindowBlocks
        case slashBasisPoints
        case challengerBountyBasisPoints
        case settlementGraceSeconds
        case referee
    }

    public init(
        chainID: String, referee: PublicKey, unbondingDelayBlocks: UInt64 = 10, withdrawalDelayBlocks: UInt64 = 10,
        minimumNodeStake: Amount = Amount(microUnits: 100_000_000),
        challengeBond: Amount = Amount(microUnits: 1_000_000),
        challengeWindowBlocks: UInt64 = 1_000, slashBasisPoints: UInt16 = 5_000,
        challengerBountyBasisPoints: UInt16 = 5_000, settlementGraceSeconds: UInt64 = 3_600
    ) {
        self.chainID = chainID
        self.unbondingDelayBlocks = unbondingDelayBlocks
        self.withdrawalDelayBlocks = withdrawalDelayBlocks
        self.minimumNodeStake = minimumNodeStake
        self.challengeBond = challengeBond
        self.challengeWindowBlocks = challengeWindowBlocks
        self.slashBasisPoints = slashBasisPoints
        self.challengerBountyBasisPoints = challengerBountyBasisPoints
        self.settlementGraceSeconds = settlementGraceSeconds
        self.referee = referee
    }

    /// Refuses parameters that would make the chain unusable or unsafe.
    public func validate() throws(LedgerError) {
        guard !chainID.isEmpty, chainID.utf8.count <= 64 else { throw .invalidGenesis("chain id must be 1–64 bytes") }
        guard unbondingDelayBlocks >= 1, withdrawalDelayBlocks >= 1 else {
            throw .invalidGenesis("unbonding and withdrawal delays must be at least one block")
        }
        guard slashBasisPoints <= 10_000, challengerBountyBasisPoints <= 10_000 else {
            throw .invalidGenesis("basis points above 10 000")
        }
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(chainID)
        writer.write(unbondingDelayBlocks)
        writer.write(withdrawalDelayBlocks)
        writer.write(minimumNodeStake)
        writer.write(challengeBond)
        writer.write(challengeWindowBlocks)
        writer.write(slashBasisPoints)
        writer.write(challengerBountyBasisPoints)
        writer.write(settlementGraceSeconds)
        writer.write(referee)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        chainID = try reader.readString(limit: 64)
        unbondingDelayBlocks = try reader.readUInt64()
        withdrawalDelayBlocks = try reader.readUInt64()
        minimumNodeStake = try reader.read()
        challengeBond = try reader.read()
        challengeWindowBlocks = try reader.readUInt64()
        slashBasisPoints = try reader.readUInt16()
        challengerBountyBasisPoints = try reader.readUInt16()
        settlementGraceSeconds = try reader.readUInt64()
        referee = try reader.read()
    }
}
