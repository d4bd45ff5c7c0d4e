import AgoraCore
import AgoraLedger
import Foundation

/// A ledger seen through a cache of the two reads a node makes for every paid request — the payer's
/// account (its deposit) and the job (was it settled?) — kept valid by following the chain.
///
/// How it stays right: a background task long-polls `waitForHead(above:)`; every new block (and every
/// submission through this object, such as the node's own settlements) starts a new generation and drops
/// every cached answer. An answer is cached under the generation in which its read started, so a read that
/// raced a new block is never served afterwards. What a cached answer can miss is only a block sealed in the
/// last round trip — the same window an uncached read has between the check and the job's settlement, which
/// the node's reservations and the ledger's own settlement checks already cover.
///
/// Everything else passes straight through to the wrapped ledger.
public final class CachingLedger: LedgerReader, TransactionSubmitter, @unchecked Sendable {
    public let base: any LedgerAccess
    private let lock = NSLock()
    private var generation: UInt64 = 0
    private var knownHeight: UInt64
    private var accounts: [PublicKey: AccountState] = [:]
    private var jobs: [Hash256: JobRecord?] = [:]
    private var follower: Task<Void, Never>?
    /// Bounds memory: a cache that grows past this is simply dropped.
    private let maxEntries = 100_000

    /// Wraps `base` and starts following its head.
    public init(_ base: any LedgerAccess) async throws(LedgerAccessError) {
        self.base = base
        knownHeight = try await base.head().header.height
        follower = Task { [weak self] in await self?.follow() }
    }

    deinit { follower?.cancel() }

    /// Stops following the chain (the cache then only serves until the next invalidation by a submission).
    public func stop() { follower?.cancel() }

    public var chainID: String { base.chainID }
    public var parameters: ChainParameters { base.parameters }

    /// The height of the newest block this cache knows of.
    public var height: UInt64 { lock.withLock { knownHeight } }

    private func follow() async {
        while !Task.isCancelled {
            let known = height
            do {
                let head = try await base.waitForHead(above: known, timeout: .seconds(10))
                if head.header.height > known { invalidate(height: head.header.height) }
            } catch {
                // The ledger is unreachable: serve nothing from the cache until it answers again.
                invalidate(height: known)
                try? await Task.sleep(for: .milliseconds(200))
            }
        }
    }

    private func invalidate(height: UInt64? = nil) {
        lock.withLock {
            generation &+= 1
            if let height { knownHeight = max(knownHeight, height) }
            accounts.removeAll(keepingCapacity: true)
            jobs.removeAll(keepingCapacity: true)
        }
    }

    public func account(_ key: PublicKey) async throws(LedgerAccessError) -> AccountState {
        let (cached, started) = lock.withLock { (accounts[key], generation) }
        if let cached { return cached }
        let account = try await base.account(key)
        lock.withLock {
            guard generation == started else { return }
            if accounts.count >= maxEntries { accounts.removeAll(keepingCapacity: true) }
            accounts[key] = account
        }
        return account
    }

    public func job(_ id: Hash256) async throws(LedgerAccessError) -> JobRecord? {
        let (cached, started) = lock.withLock { (jobs[id], generation) }
        if let cached { return cached }
        let job = try await base.job(id)
        lock.withLock {
            guard generation == started else { return }
            if jobs.count >= maxEntries { jobs.removeAll(keepingCapacity: true) }
            jobs[id] = .some(job)
        }
        return job
    }

    public func submit(_ transactions: [Transaction], wait: Bool) async throws(LedgerAccessError)
        -> [SubmissionResult]
    {
        defer { invalidate() }
        return try await base.submit(transactions, wait: wait)
    }

    public func genesis() async throws(LedgerAccessError) -> Genesis { try await base.genesis() }
    public func head() async throws(LedgerAccessError) -> SignedBlockHeader { try await base.head() }
    public func totals() async throws(LedgerAccessError) -> LedgerTotals { try await base.totals() }
    public func node(_ key: PublicKey) async throws(LedgerAccessError) -> NodeRecord? { try await base.node(key) }
    public func model(_ hash: Hash256) async throws(LedgerAccessError) -> ModelRecord? { try await base.model(hash) }
    public func offer(_ id: Hash256) async throws(LedgerAccessError) -> OfferRecord? {
        try await base.offer(id)
    }

    public func dataset(_ hash: Hash256) async throws(LedgerAccessError) -> DatasetRecord? {
        try await base.dataset(hash)
    }
    public func challenge(_ jobID: Hash256) async throws(LedgerAccessError) -> ChallengeRecord? {
        try await base.challenge(jobID)
    }
    public func transaction(_ id: Hash256) async throws(LedgerAccessError) -> TransactionLocation? {
        try await base.transaction(id)
    }
    public func nodes(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<NodeEntry> {
        try await base.nodes(after: cursor, limit: limit)
    }
    public func models(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<ModelEntry> {
        try await base.models(after: cursor, limit: limit)
    }
    public func offers(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<OfferEntry> {
        try await base.offers(after: cursor, limit: limit)
    }

    public func datasets(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<
        DatasetEntry
    > {
        try await base.datasets(after: cursor, limit: limit)
    }
    public func openChallenges(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<
        ChallengeEntry
    > {
        try await base.openChallenges(after: cursor, limit: limit)
    }
    public func blocks(from height: UInt64, count: Int) async throws(LedgerAccessError) -> [BlockEntry] {
        try await base.blocks(from: height, count: count)
    }
    public func waitForHead(above height: UInt64, timeout: Duration) async throws(LedgerAccessError)
        -> SignedBlockHeader
    {
        try await base.waitForHead(above: height, timeout: timeout)
    }
}
