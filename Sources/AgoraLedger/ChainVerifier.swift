import AgoraCore
import Foundation
import GRDB

/// Why verification stopped: the first bad block and what is wrong with it.
public struct VerificationFailure: Error, Sendable, CustomStringConvertible {
    public var height: UInt64
    public var reason: String
    public var description: String { "block \(height): \(reason)" }
}

/// The result of a successful full verification.
public struct VerificationReport: Sendable, Codable {
    public var genesisHash: Hash256
    public var blocks: UInt64
    public var transactions: UInt64
    public var headHash: Hash256
    public var stateRoot: Hash256
    public var supply: Amount
    public var burnt: Amount
}

/// Replays a chain from genesis and checks everything a block commits to: the sequencer's signature, the
/// link to the previous block, the transactions root, every transaction (signature, chain id, nonce, and
/// that it applies), the money balance of every block, and the state root after it. Finally it checks the
/// stored state itself against the head's root and the conservation invariant over the whole state.
///
/// The replayed state lives in a temporary SQLite file, not in memory, so chains with large states verify
/// in bounded memory.
public struct ChainVerifier {
    public let directory: URL
    /// Whether the folder's own state table is checked against the replay (off for a downloaded chain, which
    /// has blocks and transactions only).
    public let checkStoredState: Bool

    public init(directory: URL, checkStoredState: Bool = true) {
        self.directory = directory
        self.checkStoredState = checkStoredState
    }

    public func verify(progress: ((UInt64, UInt64) -> Void)? = nil) throws -> VerificationReport {
        let databasePath = directory.appendingPathComponent(Ledger.databaseFileName).path
        guard FileManager.default.fileExists(atPath: databasePath) else {
            throw LedgerError.notInitialized(directory.path)
        }
        let source = try LedgerStore(path: databasePath)
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("agora-verify-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = OFF; PRAGMA journal_mode = OFF")
        }
        let replay = try DatabaseQueue(
            path: scratch.appendingPathComponent("replay.sqlite").path, configuration: configuration)
        try replay.write { db in
            try db.execute(sql: "CREATE TABLE state (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID")
        }

        let (genesis, headHeight) = try source.pool.read { db -> (Genesis, UInt64) in
            guard let bytes = try LedgerStore.meta(db, "genesis") else {
                throw VerificationFailure(height: 0, reason: "no genesis stored")
            }
            let height = try Int64.fetchOne(db, sql: "SELECT MAX(height) FROM blocks") ?? -1
            guard height >= 0 else { throw VerificationFailure(height: 0, reason: "no blocks stored") }
            return (try Genesis(canonicalBytes: bytes), UInt64(height))
        }
        let supply: Amount
        do { supply = try genesis.supply() } catch { throw VerificationFailure(height: 0, reason: "\(error)") }
        let executor = TransactionExecutor(parameters: genesis.parameters)

        // Block 0: the genesis state.
        var accumulator = StateAccumulator()
        let genesisChanges = GenesisState.changes(for: genesis, supply: supply)
        accumulator.apply(genesisChanges)
        let expectedGenesis = GenesisState.header(for: genesis, stateRoot: accumulator.root)
        guard let block0 = try source.pool.read({ db in try LedgerStore.block(db, height: 0) }) else {
            throw VerificationFailure(height: 0, reason: "block 0 is missing")
        }
        guard block0.header == expectedGenesis else {
            throw VerificationFailure(height: 0, reason: "block 0 does not match the stored genesis")
        }
        guard block0.hasValidSignature else { throw VerificationFailure(height: 0, reason: "bad sequencer signature") }
        try replay.write { db in try SQLiteStateBackend(db: db).write(genesisChanges) }

        var previous = block0
        var transactionCount: UInt64 = 0
        var height: UInt64 = 1
        while height <= headHeight {
            // Replay in batches of blocks per SQL transaction: the scratch database needs no durability.
            let batchEnd = Swift.min(headHeight, height + 63)
            try replay.write { db in
                for current in height...batchEnd {
                    let (block, transactions) = try source.pool.read { sourceDB in
                        (
                            try LedgerStore.block(sourceDB, height: current),
                            try LedgerStore.transactions(sourceDB, height: current)
                        )
                    }
                    guard let block else { throw VerificationFailure(height: current, reason: "block is missing") }
                    try self.check(
                        block, after: previous, transactions: transactions, genesis: genesis, executor: executor,
                        accumulator: &accumulator, replay: db)
                    transactionCount += UInt64(transactions.count)
                    previous = block
                }
            }
            progress?(batchEnd, headHeight)
            height = batchEnd + 1
        }

        // The stored state must be exactly the replayed one, and hold exactly the supply.
        let stateSource: any DatabaseReader = checkStoredState ? source.pool : replay
        let (storedAccumulator, held) = try stateSource.read { db -> (StateAccumulator, UInt64) in
            var stored = StateAccumulator()
            var held: UInt64 = 0
            let cursor = try Row.fetchCursor(db, sql: "SELECT key, value FROM state")
            while let row = try cursor.next() {
                let key = [UInt8](row["key"] as Data)
                let value = [UInt8](row["value"] as Data)
                stored.insert(key: key, value: value)
                held &+= try MoneyAudit.held(key: key, value: value)
            }
            return (stored, held)
        }
        guard storedAccumulator.root == previous.header.stateRoot else {
            throw VerificationFailure(height: headHeight, reason: "the stored state differs from the replayed state")
        }
        guard held == supply.microUnits else {
            throw VerificationFailure(
                height: headHeight, reason: "the state holds \(held) µ but the supply is \(supply.microUnits) µ")
        }
        let burnt = try replay.read { db -> Amount in
            let bytes = try SQLiteStateBackend(db: db).value(forKey: StateKey.totals.bytes) ?? []
            return try LedgerTotals(canonicalBytes: bytes).burnt
        }
        return VerificationReport(
            genesisHash: genesis.hash, blocks: headHeight + 1, transactions: transactionCount, headHash: previous.hash,
            stateRoot: previous.header.stateRoot, supply: supply, burnt: burnt)
    }

    private func check(
        _ block: SignedBlockHeader, after previous: SignedBlockHeader, transactions: [Transaction], genesis: Genesis,
        executor: TransactionExecutor, accumulator: inout StateAccumulator, replay db: Database
    ) throws {
        let header = block.header
        let height = header.height
        func fail(_ reason: String) -> VerificationFailure { VerificationFailure(height: height, reason: reason) }
        guard header.chainID == genesis.chainID else { throw fail("wrong chain id '\(header.chainID)'") }
        guard header.height == previous.header.height + 1 else {
            throw fail("height does not follow \(previous.header.height)")
        }
        guard header.previousHash == previous.hash else { throw fail("does not link to the previous block's hash") }
        guard header.sequencer == genesis.sequencer else { throw fail("signed by a key that is not the sequencer") }
        guard block.hasValidSignature else { throw fail("bad sequencer signature") }
        guard header.timestamp >= previous.header.timestamp else { throw fail("timestamp goes backwards") }
        guard Int(header.transactionCount) == transactions.count else { throw fail("transaction count mismatch") }
        guard header.transactionsRoot == BlockHeader.transactionsRoot(transactions.map(\.id)) else {
            throw fail("transactions root mismatch")
        }
        let signatures = SignaturePipeline(transactions)
        defer { signatures.cancel() }
        let state = WorkingState(backend: SQLiteStateBackend(db: db))
        let context = BlockContext(height: height, timestamp: header.timestamp)
        do {
            try executor.releaseMatured(in: context, on: state)
            for (index, transaction) in transactions.enumerated() {
                guard signatures.verified(index) != nil else {
                    throw fail("transaction \(index) (\(transaction.id.short)…) has a bad signature")
                }
                do {
                    try executor.apply(transaction, in: context, to: state, signatureVerified: true)
                } catch {
                    throw fail("transaction \(index) (\(transaction.id.short)…) does not apply: \(error)")
                }
            }
        }
        let changes = state.changes
        do { try MoneyAudit.checkBalanced(changes) } catch { throw fail("\(error)") }
        accumulator.apply(changes)
        guard accumulator.root == header.stateRoot else { throw fail("state root mismatch after replay") }
        try SQLiteStateBackend(db: db).write(changes)
    }
}
