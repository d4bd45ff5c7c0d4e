import AgoraCore

/// The read side of a ledger, as every participant sees it: nodes, agents, the referee and the CLI use
/// only this (and `TransactionSubmitter`), whether the chain is a folder on this machine (`EmbeddedLedger`)
/// or a `agora ledger serve` on another (`RemoteLedger`), so each of them runs as its own process anywhere.
///
/// Absent records are `nil`, never errors; lists are paged with opaque, stable cursors (the last key
/// returned), so a client walking a list while blocks are sealed neither repeats nor skips an entry that
/// existed when it started.
public protocol LedgerReader: Sendable {
    var chainID: String { get }
    var parameters: ChainParameters { get }

    func genesis() async throws(LedgerAccessError) -> Genesis
    func head() async throws(LedgerAccessError) -> SignedBlockHeader
    func totals() async throws(LedgerAccessError) -> LedgerTotals
    func account(_ key: PublicKey) async throws(LedgerAccessError) -> AccountState
    func node(_ key: PublicKey) async throws(LedgerAccessError) -> NodeRecord?
    func model(_ hash: Hash256) async throws(LedgerAccessError) -> ModelRecord?
    func dataset(_ hash: Hash256) async throws(LedgerAccessError) -> DatasetRecord?
    func offer(_ id: Hash256) async throws(LedgerAccessError) -> OfferRecord?
    func job(_ id: Hash256) async throws(LedgerAccessError) -> JobRecord?
    func challenge(_ jobID: Hash256) async throws(LedgerAccessError) -> ChallengeRecord?
    func transaction(_ id: Hash256) async throws(LedgerAccessError) -> TransactionLocation?

    func nodes(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<NodeEntry>
    func models(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<ModelEntry>
    func datasets(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<DatasetEntry>
    func offers(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<OfferEntry>
    /// Challenges still waiting for the referee, with their jobs.
    func openChallenges(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<
        ChallengeEntry
    >

    /// Blocks `from ..< from + count` that exist, with their transactions, in order (at most
    /// `LedgerLimits.maxBlocksPerQuery`).
    func blocks(from height: UInt64, count: Int) async throws(LedgerAccessError) -> [BlockEntry]
    /// Waits until the head is above `height` or `timeout` passes, and returns the head either way: how a
    /// participant follows the chain without polling in a loop.
    func waitForHead(above height: UInt64, timeout: Duration) async throws(LedgerAccessError) -> SignedBlockHeader
}

/// The write side: signed transactions in, typed verdicts out.
public protocol TransactionSubmitter: Sendable {
    /// Submits transactions in order. With `wait`, returns once each is in a block or refused; without, a
    /// transaction that passed the door checks is `.queued`.
    func submit(_ transactions: [Transaction], wait: Bool) async throws(LedgerAccessError) -> [SubmissionResult]
}

/// A ledger a participant can read and submit to.
public typealias LedgerAccess = LedgerReader & TransactionSubmitter

/// Page sizes and ranges every implementation enforces the same way.
public enum LedgerLimits {
    public static let defaultPageSize = 100
    public static let maxPageSize = 500
    public static let maxBlocksPerQuery = 100
    /// Longest a follower may wait for a new block in one call.
    public static let maxWait: Duration = .seconds(30)
}

/// What the ledger said about one submitted transaction.
public enum TransactionVerdict: Sendable, Equatable, Codable {
    /// Passed the door checks and waits in the sequencer's queue (the submission did not wait).
    case queued
    /// Committed in the block at `height`.
    case accepted(height: UInt64)
    /// Refused: at the door or by the block producer. It changed nothing.
    case rejected(TransactionError)
}

/// One transaction's verdict; `id` is nil only when the bytes did not decode into a transaction.
public struct SubmissionResult: Sendable, Equatable, Codable {
    public var id: Hash256?
    public var verdict: TransactionVerdict

    public init(id: Hash256?, verdict: TransactionVerdict) {
        self.id = id
        self.verdict = verdict
    }

    /// The refusal, if any.
    public var rejection: TransactionError? {
        if case .rejected(let error) = verdict { return error }
        return nil
    }
}

/// A page of a list and the cursor of the next one (nil on the last page).
public struct LedgerPage<Item: Sendable & Codable>: Sendable, Codable {
    public var items: [Item]
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// A registered node with the stake that makes it eligible.
public struct NodeEntry: Sendable, Equatable, Codable {
    public var key: PublicKey
    public var record: NodeRecord
    public var stake: Amount

    public init(key: PublicKey, record: NodeRecord, stake: Amount) {
        self.key = key
        self.record = record
        self.stake = stake
    }
}

public struct ModelEntry: Sendable, Equatable, Codable {
    public var hash: Hash256
    public var record: ModelRecord
}

public struct DatasetEntry: Sendable, Equatable, Codable {
    public var hash: Hash256
    public var record: DatasetRecord
}

/// An open challenge and the job it disputes.
public struct ChallengeEntry: Sendable, Equatable, Codable {
    public var jobID: Hash256
    public var job: JobRecord
    public var challenge: ChallengeRecord

    /// JSON spells identifiers `chainId` / `jobId`, like the x402 terms (docs/protocol.md §2.6).
    enum CodingKeys: String, CodingKey {
        case jobID = "jobId"
        case job
        case challenge
    }

    public init(jobID: Hash256, job: JobRecord, challenge: ChallengeRecord) {
        self.jobID = jobID
        self.job = job
        self.challenge = challenge
    }
}

/// A block with its transactions.
public struct BlockEntry: Sendable, Equatable {
    public var block: SignedBlockHeader
    public var transactions: [Transaction]

    public init(block: SignedBlockHeader, transactions: [Transaction]) {
        self.block = block
        self.transactions = transactions
    }
}

/// Why a query was refused: the caller's mistake, reported as HTTP 400 by the RPC.
public enum LedgerQueryError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    case badCursor(String)
    case badLimit(requested: Int, max: Int)
    case rangeTooLarge(requested: Int, max: Int)
    case badParameter(name: String, why: String)
    case unknownParameter(String)

    public var description: String {
        switch self {
        case .badCursor(let why): return "bad cursor: \(why)"
        case .badLimit(let requested, let max): return "limit \(requested) is outside 1…\(max)"
        case .rangeTooLarge(let requested, let max): return "\(requested) blocks asked for, at most \(max) per query"
        case .badParameter(let name, let why): return "bad '\(name)': \(why)"
        case .unknownParameter(let name): return "unknown query parameter '\(name)'"
        }
    }
}

/// Why a ledger call failed as a whole (not a transaction's verdict, which is a `SubmissionResult`).
public enum LedgerAccessError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The remote ledger could not be reached or did not answer in time.
    case unreachable(String)
    /// The query was refused as malformed.
    case badQuery(LedgerQueryError)
    /// The embedded ledger failed (storage, corrupt state, read-only).
    case ledger(LedgerError)
    /// The remote ledger answered with something this client cannot read, or an unexpected status.
    case protocolViolation(String)

    public var description: String {
        switch self {
        case .unreachable(let why): return "the ledger is unreachable: \(why)"
        case .badQuery(let error): return "the ledger refused the query: \(error)"
        case .ledger(let error): return "\(error)"
        case .protocolViolation(let why): return "the ledger's answer is not understood: \(why)"
        }
    }
}

extension LedgerReader {
    /// Every registered node, walking all pages.
    public func allNodes() async throws(LedgerAccessError) -> [NodeEntry] {
        try await Self.walk { cursor async throws(LedgerAccessError) in
            try await nodes(after: cursor, limit: LedgerLimits.maxPageSize)
        }
    }

    /// Every registered model, walking all pages.
    public func allModels() async throws(LedgerAccessError) -> [ModelEntry] {
        try await Self.walk { cursor async throws(LedgerAccessError) in
            try await models(after: cursor, limit: LedgerLimits.maxPageSize)
        }
    }

    /// Every offer (live and retired), walking all pages.
    public func allOffers() async throws(LedgerAccessError) -> [OfferEntry] {
        try await Self.walk { cursor async throws(LedgerAccessError) in
            try await offers(after: cursor, limit: LedgerLimits.maxPageSize)
        }
    }

    /// Every open challenge, walking all pages.
    public func allOpenChallenges() async throws(LedgerAccessError) -> [ChallengeEntry] {
        try await Self.walk { cursor async throws(LedgerAccessError) in
            try await openChallenges(after: cursor, limit: LedgerLimits.maxPageSize)
        }
    }

    private static func walk<Item>(
        _ page: (String?) async throws(LedgerAccessError) -> LedgerPage<Item>
    ) async throws(LedgerAccessError) -> [Item] {
        var items: [Item] = []
        var cursor: String?
        repeat {
            let next = try await page(cursor)
            items += next.items
            cursor = next.nextCursor
        } while cursor != nil
        return items
    }

    /// A model by content hash (hex) or by its registered name.
    public func resolveModel(_ nameOrHash: String) async throws(LedgerAccessError) -> Hash256? {
        if let hash = Hash256(hex: nameOrHash) { return hash }
        return try await allModels().first { $0.record.name == nameOrHash }?.hash
    }
}

extension LedgerReader where Self: TransactionSubmitter {
    /// Signs `body` with the signer's next nonce, submits it and waits for the verdict.
    public func signAndSubmit(_ body: TransactionBody, by signer: SigningKey) async throws(LedgerAccessError)
        -> (transaction: Transaction, result: SubmissionResult)
    {
        let nonce = try await account(signer.publicKey).nonce + 1
        let transaction = Transaction.signed(by: signer, chainID: chainID, nonce: nonce, body: body)
        let results = try await submit([transaction], wait: true)
        guard let result = results.first else { throw .protocolViolation("no verdict for the transaction") }
        return (transaction, result)
    }
}

/// Cursors are the hex of the last state key a page returned: stable across new blocks, because state keys
/// are ordered and a page resumes strictly after the key.
enum LedgerCursor {
    static func decode(_ cursor: String?, prefix: StateKey.Prefix) throws(LedgerQueryError) -> [UInt8]? {
        guard let cursor else { return nil }
        guard let bytes = Hex.decode(cursor), bytes.first == prefix.rawValue, bytes.count > 1, bytes.count <= 64
        else { throw .badCursor("'\(cursor.prefix(80))' is not a cursor of this list") }
        return bytes
    }

    static func encode(_ key: [UInt8]) -> String { Hex.encode(key) }

    static func checkLimit(_ limit: Int) throws(LedgerQueryError) {
        guard (1...LedgerLimits.maxPageSize).contains(limit) else {
            throw .badLimit(requested: limit, max: LedgerLimits.maxPageSize)
        }
    }
}
