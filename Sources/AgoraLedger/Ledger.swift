import AgoraCore
import Foundation
import GRDB

/// What happened to the transactions offered for a block.
public struct BlockOutcome: Sendable {
    /// The committed block; nil when nothing was accepted and no empty block was asked for.
    public var block: SignedBlockHeader?
    public var accepted: [Hash256]
    public var rejected: [(id: Hash256, error: TransactionError)]
}

/// An embedded ledger in a data directory: the sequencer's view of the chain, or a read-only view of it.
///
/// Opening it resumes from the last committed block. `produceBlock` is the only writer and is serialized;
/// queries read concurrently from SQLite's WAL snapshot. Opened without the sequencer key (`sequencing:
/// false`, or a copy of the folder without `sequencer.key`) it answers every query and refuses to seal.
public final class Ledger: @unchecked Sendable {
    public static let databaseFileName = "ledger.sqlite"
    public static let sequencerKeyFileName = "sequencer.key"
    public static let genesisFileName = "genesis.json"

    public let directory: URL
    public let genesis: Genesis
    public var parameters: ChainParameters { genesis.parameters }
    public var chainID: String { genesis.chainID }

    let store: LedgerStore
    private let sequencerKey: SigningKey?
    private let executor: TransactionExecutor
    private let lock = NSLock()
    private var headHeader: SignedBlockHeader

    /// Creates a new chain in `directory` (which must not already hold one) and commits block 0.
    public static func create(at directory: URL, genesis: Genesis, sequencerKey: SigningKey) throws(LedgerError)
        -> Ledger
    {
        try genesis.parameters.validate()
        guard genesis.sequencer == sequencerKey.publicKey else {
            throw .invalidGenesis("the genesis names a different sequencer than the key given")
        }
        let supply = try genesis.supply()
        let databasePath = directory.appendingPathComponent(databaseFileName).path
        guard !FileManager.default.fileExists(atPath: databasePath) else { throw .alreadyInitialized(directory.path) }
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        } catch { throw .storage("cannot create \(directory.path): \(error)") }
        // A key file without a database is what an interrupted `init` leaves: reuse it when it holds this
        // very key (so `init` can simply be run again), refuse it otherwise.
        let keyURL = directory.appendingPathComponent(sequencerKeyFileName)
        if FileManager.default.fileExists(atPath: keyURL.path) {
            guard (try? KeyFileStore.load(keyURL))?.publicKey == sequencerKey.publicKey else {
                throw .keyFile("\(keyURL.path) holds another key; move it away to create a new chain here")
            }
        } else {
            try KeyFileStore.write(sequencerKey, to: keyURL)
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            try encoder.encode(genesis).write(to: directory.appendingPathComponent(genesisFileName))
        } catch { throw .storage("cannot write genesis.json: \(error)") }

        let store = try LedgerStore(path: databasePath)
        let changes = GenesisState.changes(for: genesis, supply: supply)
        var accumulator = StateAccumulator()
        accumulator.apply(changes)
        let header = GenesisState.header(for: genesis, stateRoot: accumulator.root)
        let block = SignedBlockHeader(header: header, signedBy: sequencerKey)
        do {
            try store.pool.write { db in
                try SQLiteStateBackend(db: db).write(changes)
                try LedgerStore.insertBlock(db, block)
                try LedgerStore.setMeta(db, "genesis", genesis.canonicalBytes)
                try LedgerStore.setMeta(db, "accumulator", accumulator.bytes)
            }
        } catch { throw .storage("cannot commit genesis: \(error)") }
        return try Ledger(directory: directory, store: store, sequencerKey: sequencerKey)
    }

    /// Opens the chain in `directory`, resuming after its last committed block. With `sequencing`, the
    /// directory's `sequencer.key` is loaded and the ledger seals blocks; without it the key is never read and
    /// the ledger is a read-only view (what every participant other than the sequencer needs).
    public static func open(at directory: URL, sequencing: Bool = true) throws(LedgerError) -> Ledger {
        let databasePath = directory.appendingPathComponent(databaseFileName).path
        guard FileManager.default.fileExists(atPath: databasePath) else { throw .notInitialized(directory.path) }
        let key = sequencing ? try KeyFileStore.load(directory.appendingPathComponent(sequencerKeyFileName)) : nil
        return try Ledger(directory: directory, store: try LedgerStore(path: databasePath), sequencerKey: key)
    }

    /// Whether this process may seal blocks (it holds the sequencer key).
    public var isSequencing: Bool { sequencerKey != nil }

    private init(directory: URL, store: LedgerStore, sequencerKey: SigningKey?) throws(LedgerError) {
        self.directory = directory
        self.store = store
        self.sequencerKey = sequencerKey
        do {
            let loaded = try store.pool.read { db -> (Genesis, SignedBlockHeader, StateAccumulator) in
                guard let genesisBytes = try LedgerStore.meta(db, "genesis") else {
                    throw LedgerError.corruptState("the database has no genesis")
                }
                let (head, accumulator) = try Self.loadHead(db)
                return (try Genesis(canonicalBytes: genesisBytes), head, accumulator)
            }
            let (genesis, head, _) = loaded
            if let sequencerKey, genesis.sequencer != sequencerKey.publicKey {
                throw LedgerError.keyFile("sequencer.key is not the chain's sequencer key")
            }
            self.genesis = genesis
            self.headHeader = head
        } catch let error as LedgerError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
        executor = TransactionExecutor(parameters: genesis.parameters)
    }

    /// The last committed block and the state accumulator that matches it, as stored.
    static func loadHead(_ db: Database) throws -> (SignedBlockHeader, StateAccumulator) {
        guard let accumulatorBytes = try LedgerStore.meta(db, "accumulator"),
            let accumulator = StateAccumulator(bytes: accumulatorBytes),
            let height = try Int64.fetchOne(db, sql: "SELECT MAX(height) FROM blocks"),
            let head = try LedgerStore.block(db, height: UInt64(height))
        else { throw LedgerError.corruptState("the database has no blocks") }
        guard head.header.stateRoot == accumulator.root else {
            throw LedgerError.corruptState("the stored state does not match the last block's state root")
        }
        return (head, accumulator)
    }

    /// The last committed block (read from storage, so blocks committed by another process count).
    public var head: SignedBlockHeader {
        lock.lock()
        defer { lock.unlock() }
        if let stored = try? store.pool.read({ db in try Self.loadHead(db).0 }) { headHeader = stored }
        return headHeader
    }

    /// Applies `transactions` in order and commits the accepted ones as the next block. Refused transactions
    /// are reported and left out; they change nothing.
    public func produceBlock(
        _ transactions: [Transaction], timestamp: UInt64? = nil, allowEmpty: Bool = false
    ) throws(LedgerError) -> BlockOutcome {
        // Signatures are checked on the other cores while this thread applies the transactions in order.
        let signatures = SignaturePipeline(transactions)
        defer { signatures.cancel() }
        return try produceBlock(
            count: transactions.count,
            transactionAt: { index in
                signatures.verified(index).map { .verified($0) } ?? .badSignature(transactions[index].id)
            }, timestamp: timestamp, allowEmpty: allowEmpty)
    }

    /// Like `produceBlock(_:)` for transactions whose signatures were checked on admission (a sequencer's
    /// queue): only the state transition and the commit are left to do here.
    public func produceBlock(
        verified transactions: [VerifiedTransaction], timestamp: UInt64? = nil, allowEmpty: Bool = false
    ) throws(LedgerError) -> BlockOutcome {
        try produceBlock(
            count: transactions.count, transactionAt: { .verified(transactions[$0]) }, timestamp: timestamp,
            allowEmpty: allowEmpty)
    }

    private enum Offered {
        case verified(VerifiedTransaction)
        case badSignature(Hash256)
    }

    private func produceBlock(
        count: Int, transactionAt: (Int) -> Offered, timestamp: UInt64?, allowEmpty: Bool
    ) throws(LedgerError) -> BlockOutcome {
        guard let sequencerKey else { throw .readOnly(directory.path) }
        lock.lock()
        defer { lock.unlock() }
        var accepted: [VerifiedTransaction] = []
        var rejected: [(id: Hash256, error: TransactionError)] = []
        var newHead: SignedBlockHeader?
        var newAccumulator = StateAccumulator()
        var changeCount = 0
        do {
            try store.pool.write { db in
                // Re-read the head inside the write transaction: another process sharing this data directory
                // may have committed since, and SQLite's write lock makes this read-then-append atomic.
                let (storedHead, storedAccumulator) = try Self.loadHead(db)
                let previous = storedHead.header
                newAccumulator = storedAccumulator
                let context = BlockContext(
                    height: previous.height + 1,
                    timestamp: Swift.max(timestamp ?? Self.nowMilliseconds(), previous.timestamp))
                let backend = SQLiteStateBackend(db: db)
                let state = WorkingState(backend: backend)
                try self.executor.releaseMatured(in: context, on: state)
                for index in 0..<count {
                    switch transactionAt(index) {
                    case .badSignature(let id):
                        rejected.append((id, .invalidSignature))
                    case .verified(let verified):
                        do throws(TransactionError) {
                            try self.executor.apply(
                                verified.transaction, in: context, to: state, signatureVerified: true)
                            accepted.append(verified)
                        } catch {
                            if case .storage = error { throw error }
                            rejected.append((verified.id, error))
                        }
                    }
                }
                guard !accepted.isEmpty || allowEmpty else { return }
                let changes = state.changes
                changeCount = changes.count
                try MoneyAudit.checkBalanced(changes)
                // The state root's leaf expansions (CPU) run beside the SQLite writes of the state and the
                // transactions, which do not depend on it; only the block row needs the root.
                let rootJob = BackgroundResult { [newAccumulator] in
                    var accumulator = newAccumulator
                    accumulator.apply(changes)
                    return accumulator
                }
                try backend.write(changes)
                try LedgerStore.insertTransactions(db, height: context.height, accepted)
                newAccumulator = rootJob.wait()
                let header = BlockHeader(
                    chainID: self.chainID, height: context.height, previousHash: previous.hash,
                    transactionsRoot: BlockHeader.transactionsRoot(accepted.map(\.id)), stateRoot: newAccumulator.root,
                    timestamp: context.timestamp, transactionCount: UInt32(accepted.count),
                    sequencer: sequencerKey.publicKey)
                let block = SignedBlockHeader(header: header, signedBy: sequencerKey)
                try LedgerStore.insertBlock(db, block)
                try LedgerStore.setMeta(db, "accumulator", newAccumulator.bytes)
                newHead = block
            }
        } catch let error as LedgerError {
            throw error
        } catch let error as TransactionError {
            throw .storage(error.description)
        } catch {
            throw .storage("\(error)")
        }
        if let newHead {
            headHeader = newHead
            store.checkpointer.committed(changes: changeCount)
        }
        return BlockOutcome(block: newHead, accepted: accepted.map(\.id), rejected: rejected)
    }

    static func nowMilliseconds() -> UInt64 { UInt64(Date().timeIntervalSince1970 * 1000) }
}

/// The state and block 0 that a genesis document defines.
enum GenesisState {
    static func changes(for genesis: Genesis, supply: Amount) -> [StateChange] {
        var changes = [
            StateChange(
                key: StateKey.totals.bytes, oldValue: nil, newValue: LedgerTotals(supply: supply).canonicalBytes)
        ]
        for allocation in genesis.allocations {
            var account = AccountState()
            account.balance = allocation.amount
            changes.append(
                StateChange(
                    key: StateKey.account(allocation.account).bytes, oldValue: nil, newValue: account.canonicalBytes))
        }
        return changes
    }

    static func header(for genesis: Genesis, stateRoot: Hash256) -> BlockHeader {
        BlockHeader(
            chainID: genesis.chainID, height: 0, previousHash: .zero, transactionsRoot: genesis.hash,
            stateRoot: stateRoot, timestamp: genesis.timestamp, transactionCount: 0, sequencer: genesis.sequencer)
    }
}

/// A value computed on another thread while the caller does something else.
final class BackgroundResult<Value: Sendable>: @unchecked Sendable {
    private let group = DispatchGroup()
    private var value: Value?

    init(_ work: @escaping @Sendable () -> Value) {
        group.enter()
        DispatchQueue.global(qos: .userInitiated).async { [self] in
            value = work()
            group.leave()
        }
    }

    func wait() -> Value {
        group.wait()
        return value!
    }
}
