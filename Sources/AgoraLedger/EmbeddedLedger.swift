import AgoraCore
import Dispatch
import Foundation

/// A ledger folder on this machine behind the access protocols.
///
/// Every SQLite read runs on a GCD thread, never on Swift's cooperative pool (a read waits for the disk).
/// Submissions seal a block at once when this process holds the sequencer key, and are refused with
/// `LedgerError.readOnly` when it does not: another process's `agora ledger serve` is then the way in.
public struct EmbeddedLedger: LedgerReader, TransactionSubmitter {
    public let ledger: Ledger

    public init(_ ledger: Ledger) { self.ledger = ledger }

    /// Opens `directory`: sequencing when asked and `sequencer.key` is there, read-only otherwise.
    public static func open(at directory: URL, sequencing: Bool) throws(LedgerError) -> EmbeddedLedger {
        let keyExists = FileManager.default.fileExists(
            atPath: directory.appendingPathComponent(Ledger.sequencerKeyFileName).path)
        return EmbeddedLedger(try Ledger.open(at: directory, sequencing: sequencing && keyExists))
    }

    public var chainID: String { ledger.chainID }
    public var parameters: ChainParameters { ledger.parameters }

    private func run<T: Sendable>(_ body: @escaping @Sendable () throws(LedgerError) -> T)
        async throws(LedgerAccessError) -> T
    {
        let result: Result<T, LedgerError> = await withCheckedContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                do throws(LedgerError) {
                    continuation.resume(returning: .success(try body()))
                } catch {
                    continuation.resume(returning: .failure(error))
                }
            }
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw .ledger(error)
        }
    }

    public func genesis() async throws(LedgerAccessError) -> Genesis { ledger.genesis }
    public func head() async throws(LedgerAccessError) -> SignedBlockHeader {
        return try await run { ledger.head }
    }
    public func totals() async throws(LedgerAccessError) -> LedgerTotals {
        return try await run { () throws(LedgerError) in try ledger.totals() }
    }
    public func account(_ key: PublicKey) async throws(LedgerAccessError) -> AccountState {
        return try await run { () throws(LedgerError) in try ledger.account(key) }
    }
    public func node(_ key: PublicKey) async throws(LedgerAccessError) -> NodeRecord? {
        return try await run { () throws(LedgerError) in try ledger.node(key) }
    }
    public func model(_ hash: Hash256) async throws(LedgerAccessError) -> ModelRecord? {
        return try await run { () throws(LedgerError) in try ledger.model(hash) }
    }
    public func offer(_ id: Hash256) async throws(LedgerAccessError) -> OfferRecord? {
        return try await run { () throws(LedgerError) in try ledger.offer(id) }
    }
    public func dataset(_ hash: Hash256) async throws(LedgerAccessError) -> DatasetRecord? {
        return try await run { () throws(LedgerError) in try ledger.dataset(hash) }
    }
    public func job(_ id: Hash256) async throws(LedgerAccessError) -> JobRecord? {
        return try await run { () throws(LedgerError) in try ledger.job(id) }
    }
    public func challenge(_ jobID: Hash256) async throws(LedgerAccessError) -> ChallengeRecord? {
        return try await run { () throws(LedgerError) in try ledger.challenge(jobID) }
    }
    public func transaction(_ id: Hash256) async throws(LedgerAccessError) -> TransactionLocation? {
        return try await run { () throws(LedgerError) in try ledger.transaction(id) }
    }

    public func nodes(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<NodeEntry> {
        let start = try Self.check(cursor, .node, limit)
        return try await run { () throws(LedgerError) in try ledger.nodePage(after: start, limit: limit) }
    }
    public func models(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<ModelEntry> {
        let start = try Self.check(cursor, .model, limit)
        return try await run { () throws(LedgerError) in try ledger.modelPage(after: start, limit: limit) }
    }
    public func offers(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<OfferEntry> {
        let start = try Self.check(cursor, .offer, limit)
        return try await run { () throws(LedgerError) in try ledger.offerPage(after: start, limit: limit) }
    }
    public func datasets(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<
        DatasetEntry
    > {
        let start = try Self.check(cursor, .dataset, limit)
        return try await run { () throws(LedgerError) in try ledger.datasetPage(after: start, limit: limit) }
    }
    public func openChallenges(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<
        ChallengeEntry
    > {
        let start = try Self.check(cursor, .challenge, limit)
        return try await run { () throws(LedgerError) in try ledger.openChallengePage(after: start, limit: limit) }
    }

    public func blocks(from height: UInt64, count: Int) async throws(LedgerAccessError) -> [BlockEntry] {
        guard count >= 1, count <= LedgerLimits.maxBlocksPerQuery else {
            throw .badQuery(.rangeTooLarge(requested: count, max: LedgerLimits.maxBlocksPerQuery))
        }
        return try await run { () throws(LedgerError) in try ledger.blockEntries(from: height, count: count) }
    }

    public func waitForHead(above height: UInt64, timeout: Duration) async throws(LedgerAccessError)
        -> SignedBlockHeader
    {
        // Another process (the sequencer) commits to the same file: the only signal is the file, so poll it.
        let deadline = ContinuousClock.now + min(timeout, LedgerLimits.maxWait)
        while true {
            let current = try await head()
            if current.header.height > height || ContinuousClock.now >= deadline { return current }
            try? await Task.sleep(for: .milliseconds(25))
            if Task.isCancelled { return current }
        }
    }

    public func submit(_ transactions: [Transaction], wait: Bool) async throws(LedgerAccessError)
        -> [SubmissionResult]
    {
        let outcome = try await run { () throws(LedgerError) in try ledger.produceBlock(transactions) }
        // Each transaction was either accepted or refused, and both lists keep the submission's order: walk
        // them side by side (a duplicate in one submission gets its own verdict, not its twin's).
        let height = outcome.block?.header.height ?? 0
        var accepted = outcome.accepted[...]
        var rejected = outcome.rejected[...]
        return transactions.map { transaction in
            let id = transaction.id
            if accepted.first == id {
                accepted.removeFirst()
                return SubmissionResult(id: id, verdict: .accepted(height: height))
            }
            let error = rejected.first?.error ?? .storage("no verdict")
            if !rejected.isEmpty { rejected.removeFirst() }
            return SubmissionResult(id: id, verdict: .rejected(error))
        }
    }

    private static func check(_ cursor: String?, _ prefix: StateKey.Prefix, _ limit: Int) throws(LedgerAccessError)
        -> [UInt8]?
    {
        do throws(LedgerQueryError) {
            try LedgerCursor.checkLimit(limit)
            return try LedgerCursor.decode(cursor, prefix: prefix)
        } catch {
            throw .badQuery(error)
        }
    }
}
