import AgoraCore
import Foundation
import GRDB

/// Where a stored transaction sits in the chain.
public struct TransactionLocation: Sendable {
    public var transaction: Transaction
    public var height: UInt64
    public var position: Int
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
