import AgoraCore
import Foundation
import GRDB

/// Where a stored transaction sits in the chain.
public struct TransactionLocation: Sendable {
    public var transaction: Transaction
    public var height: UInt64
    public var position: Int

    public init(transaction: Transaction, height: UInt64, position: Int) {
        self.transaction = transaction
        self.height = height
        self.position = position
    }
}

/// Read-only queries on the committed state. They read SQLite directly and never hold the state in memory.
extension Ledger {
    public func account(_ key: PublicKey) throws(LedgerError) -> AccountState {
        try record(.account(key), as: AccountState.self) ?? AccountState()
    }

    public func node(_ key: PublicKey) throws(LedgerError) -> NodeRecord? {
        try record(.node(key), as: NodeRecord.self)
    }
    public func model(_ hash: Hash256) throws(LedgerError) -> ModelRecord? {
        try record(.model(hash), as: ModelRecord.self)
    }
    public func dataset(_ hash: Hash256) throws(LedgerError) -> DatasetRecord? {
        try record(.dataset(hash), as: DatasetRecord.self)
    }
    public func job(_ id: Hash256) throws(LedgerError) -> JobRecord? { try record(.job(id), as: JobRecord.self) }
    public func challenge(_ id: Hash256) throws(LedgerError) -> ChallengeRecord? {
        try record(.challenge(id), as: ChallengeRecord.self)
    }
    public func totals() throws(LedgerError) -> LedgerTotals {
        guard let totals = try record(.totals, as: LedgerTotals.self) else { throw .corruptState("no totals record") }
        return totals
    }

    /// Every registered node with its key.
    public func nodes() throws(LedgerError) -> [(key: PublicKey, record: NodeRecord)] {
        try scan(.node) { key, value throws(CanonicalDecodingError) in
            guard case .node(let node) = try StateKey(bytes: key) else { return nil }
            return (node, try NodeRecord(canonicalBytes: value))
        }
    }

    /// Every registered model with its content hash.
    public func models() throws(LedgerError) -> [(hash: Hash256, record: ModelRecord)] {
        try scan(.model) { key, value throws(CanonicalDecodingError) in
            guard case .model(let hash) = try StateKey(bytes: key) else { return nil }
            return (hash, try ModelRecord(canonicalBytes: value))
        }
    }

    /// One page of registered nodes (with their stake) after the state key `after`.
    public func nodePage(after: [UInt8]?, limit: Int) throws(LedgerError) -> LedgerPage<NodeEntry> {
        let (entries, next) = try page(.node, after: after, limit: limit)
        var items: [NodeEntry] = []
        for entry in entries {
            do {
                guard case .node(let key) = try StateKey(bytes: entry.key) else { continue }
                items.append(
                    NodeEntry(
                        key: key, record: try NodeRecord(canonicalBytes: entry.value), stake: try account(key).stake))
            } catch let error as LedgerError { throw error } catch { throw .corruptState("node record: \(error)") }
        }
        return LedgerPage(items: items, nextCursor: next)
    }

    public func modelPage(after: [UInt8]?, limit: Int) throws(LedgerError) -> LedgerPage<ModelEntry> {
        let (entries, next) = try page(.model, after: after, limit: limit)
        var items: [ModelEntry] = []
        for entry in entries {
            do {
                guard case .model(let hash) = try StateKey(bytes: entry.key) else { continue }
                items.append(ModelEntry(hash: hash, record: try ModelRecord(canonicalBytes: entry.value)))
            } catch { throw .corruptState("model record: \(error)") }
        }
        return LedgerPage(items: items, nextCursor: next)
    }

    public func offer(_ id: Hash256) throws(LedgerError) -> OfferRecord? {
        try record(.offer(id), as: OfferRecord.self)
    }

    public func offerPage(after: [UInt8]?, limit: Int) throws(LedgerError) -> LedgerPage<OfferEntry> {
        let (entries, next) = try page(.offer, after: after, limit: limit)
        var items: [OfferEntry] = []
        for entry in entries {
            do {
                guard case .offer(let id) = try StateKey(bytes: entry.key) else { continue }
                items.append(OfferEntry(id: id, record: try OfferRecord(canonicalBytes: entry.value)))
            } catch { throw .corruptState("offer record: \(error)") }
        }
        return LedgerPage(items: items, nextCursor: next)
    }

    public func datasetPage(after: [UInt8]?, limit: Int) throws(LedgerError) -> LedgerPage<DatasetEntry> {
        let (entries, next) = try page(.dataset, after: after, limit: limit)
        var items: [DatasetEntry] = []
        for entry in entries {
            do {
                guard case .dataset(let hash) = try StateKey(bytes: entry.key) else { continue }
                items.append(DatasetEntry(hash: hash, record: try DatasetRecord(canonicalBytes: entry.value)))
            } catch { throw .corruptState("dataset record: \(error)") }
        }
        return LedgerPage(items: items, nextCursor: next)
    }

    /// One page of challenges still open. Decided challenges stay in the state, so a page may scan more
    /// records than it returns; the cursor still advances past every record scanned.
    public func openChallengePage(after: [UInt8]?, limit: Int) throws(LedgerError) -> LedgerPage<ChallengeEntry> {
        var items: [ChallengeEntry] = []
        var cursor = after
        while true {
            let (entries, next) = try page(.challenge, after: cursor, limit: limit)
            for entry in entries {
                cursor = entry.key
                let challenge: ChallengeRecord
                let jobID: Hash256
                do {
                    guard case .challenge(let id) = try StateKey(bytes: entry.key) else { continue }
                    jobID = id
                    challenge = try ChallengeRecord(canonicalBytes: entry.value)
                } catch { throw .corruptState("challenge record: \(error)") }
                guard challenge.isOpen else { continue }
                guard let job = try job(jobID) else {
                    throw .corruptState("challenge of job \(jobID.short)… has no job")
                }
                items.append(ChallengeEntry(jobID: jobID, job: job, challenge: challenge))
                if items.count == limit {
                    let isLastRecord = next == nil && entry.key == entries.last?.key
                    return LedgerPage(items: items, nextCursor: isLastRecord ? nil : LedgerCursor.encode(entry.key))
                }
            }
            if next == nil { return LedgerPage(items: items, nextCursor: nil) }
        }
    }

    /// Blocks `from ..< from + count` that exist, with their transactions.
    public func blockEntries(from height: UInt64, count: Int) throws(LedgerError) -> [BlockEntry] {
        try read { db in
            var entries: [BlockEntry] = []
            let end = height.addingReportingOverflow(UInt64(max(count, 0)))
            var current = height
            while current < (end.overflow ? UInt64.max : end.partialValue) {
                guard let block = try LedgerStore.block(db, height: current) else { break }
                entries.append(
                    BlockEntry(block: block, transactions: try LedgerStore.transactions(db, height: current)))
                current += 1
            }
            return entries
        }
    }

    /// One page of raw entries under a prefix, and the cursor after it (nil when the list ended).
    private func page(_ prefix: StateKey.Prefix, after: [UInt8]?, limit: Int) throws(LedgerError) -> (
        [(key: [UInt8], value: [UInt8])], String?
    ) {
        // One more than asked tells whether another page exists.
        let entries = try read { db in
            try SQLiteStateBackend(db: db).entries(withPrefix: [prefix.rawValue], after: after, limit: limit + 1)
        }
        guard entries.count > limit else { return (entries, nil) }
        let pageEntries = Array(entries.prefix(limit))
        return (pageEntries, pageEntries.last.map { LedgerCursor.encode($0.key) })
    }

    public func block(height: UInt64) throws(LedgerError) -> SignedBlockHeader? {
        try read { db in try LedgerStore.block(db, height: height) }
    }

    public func transactions(inBlock height: UInt64) throws(LedgerError) -> [Transaction] {
        try read { db in try LedgerStore.transactions(db, height: height) }
    }

    public func transaction(_ id: Hash256) throws(LedgerError) -> TransactionLocation? {
        try read { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT height, position, body FROM transactions WHERE id = ?", arguments: [Data(id.bytes)]
                )
            else { return nil }
            let body: Data = row["body"]
            let height: Int64 = row["height"]
            let position: Int = row["position"]
            return TransactionLocation(
                transaction: try Transaction.decode([UInt8](body)), height: UInt64(height), position: position)
        }
    }

    /// Σ money held over the whole state, record by record: equals the supply when the chain is sound.
    /// O(state), streamed from SQLite.
    public func moneyHeld() throws(LedgerError) -> UInt64 {
        try read { db in
            var total: UInt64 = 0
            let cursor = try Row.fetchCursor(db, sql: "SELECT key, value FROM state")
            while let row = try cursor.next() {
                let key: Data = row["key"]
                let value: Data = row["value"]
                total &+= try MoneyAudit.held(key: [UInt8](key), value: [UInt8](value))
            }
            return total
        }
    }

    func record<Record: CanonicalDecodable>(_ key: StateKey, as type: Record.Type) throws(LedgerError) -> Record? {
        let bytes = try read { db in try SQLiteStateBackend(db: db).value(forKey: key.bytes) }
        guard let bytes else { return nil }
        do { return try Record(canonicalBytes: bytes) } catch { throw .corruptState("\(key): \(error)") }
    }

    private func scan<Item>(
        _ prefix: StateKey.Prefix, _ decode: ([UInt8], [UInt8]) throws(CanonicalDecodingError) -> Item?
    ) throws(LedgerError) -> [Item] {
        let entries = try read { db in try SQLiteStateBackend(db: db).entries(withPrefix: [prefix.rawValue]) }
        var items: [Item] = []
        for entry in entries {
            do {
                if let item = try decode(entry.key, entry.value) { items.append(item) }
            } catch { throw .corruptState("\(prefix) record: \(error)") }
        }
        return items
    }

    func read<T>(_ body: (Database) throws -> T) throws(LedgerError) -> T {
        do { return try store.pool.read(body) } catch let error as LedgerError { throw error } catch {
            throw .storage("\(error)")
        }
    }
}
