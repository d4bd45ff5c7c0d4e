import AgoraCore

/// An account's money and its transaction counter.
public struct AccountState: Hashable, Sendable, CanonicalCodable, Codable {
    /// Spendable.
    public var balance: Amount = .zero
    /// Payment deposit that vouchers draw on.
    public var deposit: Amount = .zero
    /// Part of `deposit` requested for withdrawal; it stays settle-able until it is released.
    public var withdrawing: Amount = .zero
    /// Active stake.
    public var stake: Amount = .zero
    /// Stake on its way back to the balance; still slashable.
    public var unbonding: Amount = .zero
    /// The last nonce used; the next transaction must carry `nonce + 1`.
    public var nonce: UInt64 = 0

    public init() {}

    /// Everything this account holds, in any form.
    public var total: UInt64 {
        balance.microUnits &+ deposit.microUnits &+ stake.microUnits &+ unbonding.microUnits
    }

    public var isEmpty: Bool { self == AccountState() }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(balance)
        writer.write(deposit)
        writer.write(withdrawing)
        writer.write(stake)
        writer.write(unbonding)
        writer.write(nonce)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        balance = try reader.read()
        deposit = try reader.read()
        withdrawing = try reader.read()
        stake = try reader.read()
        unbonding = try reader.read()
        nonce = try reader.readUInt64()
    }
}

/// Money on its way back to a balance at `releaseHeight`.
public struct UnbondingEntry: Hashable, Sendable, CanonicalCodable {
    public enum Kind: UInt8, Sendable { case stake = 1, deposit = 2 }
    public var amount: Amount

    public init(amount: Amount) { self.amount = amount }

    public func encode(to writer: inout CanonicalWriter) { writer.write(amount) }
    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) { amount = try reader.read() }
}

/// A registered node and its record in the market.
public struct NodeRecord: Hashable, Sendable, CanonicalCodable, Codable {
    public var registration: NodeRegistration
    public var registeredHeight: UInt64
    public var jobsSettled: UInt64 = 0
    public var tokensServed: UInt64 = 0
    public var earned: Amount = .zero
    public var challengesLost: UInt64 = 0

    public init(registration: NodeRegistration, registeredHeight: UInt64) {
        self.registration = registration
        self.registeredHeight = registeredHeight
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(registration)
        writer.write(registeredHeight)
        writer.write(jobsSettled)
        writer.write(tokensServed)
        writer.write(earned)
        writer.write(challengesLost)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        registration = try reader.read()
        registeredHeight = try reader.readUInt64()
        jobsSettled = try reader.readUInt64()
        tokensServed = try reader.readUInt64()
        earned = try reader.read()
        challengesLost = try reader.readUInt64()
    }
}

/// A registered model: who owns it, who shares its royalties, what it has earned.
public struct ModelRecord: Hashable, Sendable, CanonicalCodable, Codable {
    public var owner: PublicKey
    public var name: String
    public var royaltyBasisPoints: UInt16
    public var shares: [Share]
    public var datasets: [Hash256]
    public var registeredHeight: UInt64
    public var jobs: UInt64 = 0
    public var royaltiesPaid: Amount = .zero

    public init(owner: PublicKey, registration: ModelRegistration, shares: [Share], registeredHeight: UInt64) {
        self.owner = owner
        self.name = registration.name
        self.royaltyBasisPoints = registration.royaltyBasisPoints
        self.shares = shares
        self.datasets = registration.datasets
        self.registeredHeight = registeredHeight
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(owner)
        writer.write(name)
        writer.write(royaltyBasisPoints)
        writer.write(shares)
        writer.write(datasets)
        writer.write(registeredHeight)
        writer.write(jobs)
        writer.write(royaltiesPaid)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        owner = try reader.read()
        name = try reader.readString(limit: ModelRegistration.maximumNameBytes)
        royaltyBasisPoints = try reader.readUInt16()
        shares = try reader.readArray(limit: ShareTable.maximumHolders)
        datasets = try reader.readArray(limit: ModelRegistration.maximumDatasets)
        registeredHeight = try reader.readUInt64()
        jobs = try reader.readUInt64()
        royaltiesPaid = try reader.read()
    }
}

/// A registered dataset.
public struct DatasetRecord: Hashable, Sendable, CanonicalCodable, Codable {
    public var owner: PublicKey
    public var name: String
    public var shares: [Share]
    public var registeredHeight: UInt64

    public init(owner: PublicKey, name: String, shares: [Share], registeredHeight: UInt64) {
        self.owner = owner
        self.name = name
        self.shares = shares
        self.registeredHeight = registeredHeight
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(owner)
        writer.write(name)
        writer.write(shares)
        writer.write(registeredHeight)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        owner = try reader.read()
        name = try reader.readString(limit: ModelRegistration.maximumNameBytes)
        shares = try reader.readArray(limit: ShareTable.maximumHolders)
        registeredHeight = try reader.readUInt64()
    }
}

/// A settled job, kept so it is paid only once and can be challenged.
public struct JobRecord: Hashable, Sendable, CanonicalCodable, Codable {
    public enum Status: UInt8, Sendable, Codable {
        case settled = 1, challenged = 2, nodeSlashed = 3, challengeRejected = 4
    }

    public var payer: PublicKey
    public var node: PublicKey
    public var modelHash: Hash256
    public var inputHash: Hash256
    public var outputHash: Hash256
    public var amount: Amount
    public var royalty: Amount
    public var settledHeight: UInt64
    public var status: Status
    /// The engine version the node's receipt names: a referee re-executes only with this very version (a
    /// different version may legitimately produce other bits, and must never slash an honest node).
    public var engineVersion: String

    public init(receipt: JobReceipt, royalty: Amount, settledHeight: UInt64) {
        payer = receipt.payer
        engineVersion = receipt.engineVersion
        node = receipt.node
        modelHash = receipt.modelHash
        inputHash = receipt.inputHash
        outputHash = receipt.outputHash
        amount = receipt.amount
        self.royalty = royalty
        self.settledHeight = settledHeight
        status = .settled
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(payer)
        writer.write(node)
        writer.write(modelHash)
        writer.write(inputHash)
        writer.write(outputHash)
        writer.write(amount)
        writer.write(royalty)
        writer.write(settledHeight)
        writer.write(status.rawValue)
        writer.write(engineVersion)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        payer = try reader.read()
        node = try reader.read()
        modelHash = try reader.read()
        inputHash = try reader.read()
        outputHash = try reader.read()
        amount = try reader.read()
        royalty = try reader.read()
        settledHeight = try reader.readUInt64()
        let tag = try reader.readUInt8()
        guard let status = Status(rawValue: tag) else { throw .invalidTag(type: "JobRecord.Status", tag: tag) }
        self.status = status
        engineVersion = try reader.readString(limit: 64)
    }
}

/// An open or decided challenge of a job. While open, it holds the challenger's bond.
public struct ChallengeRecord: Hashable, Sendable, CanonicalCodable, Codable {
    public var challenger: PublicKey
    public var claimedOutputHash: Hash256
    public var evidence: Hash256
    public var bond: Amount
    public var filedHeight: UInt64
    public var isOpen: Bool
    /// The disputed job's canonical request, revealed by the challenger (checked against the job's input
    /// hash when filed): what the referee re-executes, readable by anyone from the ledger.
    public var revealedRequest: [UInt8]

    public init(
        challenger: PublicKey, claimedOutputHash: Hash256, evidence: Hash256, bond: Amount, filedHeight: UInt64,
        revealedRequest: [UInt8]
    ) {
        self.challenger = challenger
        self.claimedOutputHash = claimedOutputHash
        self.evidence = evidence
        self.bond = bond
        self.filedHeight = filedHeight
        self.isOpen = true
        self.revealedRequest = revealedRequest
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(challenger)
        writer.write(claimedOutputHash)
        writer.write(evidence)
        writer.write(bond)
        writer.write(filedHeight)
        writer.write(isOpen)
        writer.writeBytes(revealedRequest)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        challenger = try reader.read()
        claimedOutputHash = try reader.read()
        evidence = try reader.read()
        bond = try reader.read()
        filedHeight = try reader.readUInt64()
        isOpen = try reader.readBool()
        revealedRequest = try reader.readBytes(limit: RevealedRequest.maxBytes)
    }
}

/// Chain-wide totals kept in the state (and so committed to by the state root).
public struct LedgerTotals: Hashable, Sendable, CanonicalCodable, Codable {
    /// Fixed at genesis.
    public var supply: Amount
    /// Slashed money destroyed, accounted so the conservation invariant still balances.
    public var burnt: Amount

    public init(supply: Amount, burnt: Amount = .zero) {
        self.supply = supply
        self.burnt = burnt
    }

    public func encode(to writer: inout CanonicalWriter) {
        writer.write(supply)
        writer.write(burnt)
    }

    public init(from reader: inout CanonicalReader) throws(CanonicalDecodingError) {
        supply = try reader.read()
        burnt = try reader.read()
    }
}

/// A job's request as revealed to the ledger: its canonical bytes (the node layer's `JobRequest` encoding),
/// opaque here. The ledger checks only that they hash to the input hash the job's voucher and receipt name.
public enum RevealedRequest {
    /// Largest revealed request a challenge may carry (a node's default body limit is 1 MiB).
    public static let maxBytes = 1 << 20

    /// The input hash of a request's canonical bytes for a model: what vouchers and receipts name.
    public static func inputHash(modelHash: Hash256, requestBytes: [UInt8]) -> Hash256 {
        Hash256.tagged("agora-request-v1", modelHash.bytes + requestBytes)
    }
}
