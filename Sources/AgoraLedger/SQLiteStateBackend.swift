import AgoraCore
import Foundation
import GRDB

/// Reads committed state from the `state` table inside an open SQLite transaction.
struct SQLiteStateBackend: StateBackend {
    let db: Database

    func value(forKey key: [UInt8]) throws(LedgerError) -> [UInt8]? {
        do {
            let statement = try db.cachedStatement(sql: "SELECT value FROM state WHERE key = ?")
            return try Data.fetchOne(statement, arguments: [Data(key)]).map { [UInt8]($0) }
        } catch {
            throw .storage("\(error)")
        }
    }

    func entries(withPrefix prefix: [UInt8]) throws(LedgerError) -> [(key: [UInt8], value: [UInt8])] {
        try entries(withPrefix: prefix, after: nil, limit: -1)
    }

    /// Up to `limit` entries (all for -1) under `prefix` whose keys come strictly after `after` (or from the
    /// start), in key order: one page of a list.
    func entries(withPrefix prefix: [UInt8], after: [UInt8]?, limit: Int) throws(LedgerError) -> [(
        key: [UInt8], value: [UInt8]
    )] {
        do {
            // Keys under a prefix form one contiguous range: [prefix, prefix + 0xFF…).
            let rows = try Row.fetchAll(
                db,
                sql:
                    "SELECT key, value FROM state WHERE key \(after == nil ? ">=" : ">") ? AND key < ? ORDER BY key LIMIT ?",
                arguments: [Data(after ?? prefix), Data(prefix + [UInt8](repeating: 0xFF, count: 64)), limit])
            return rows.map { row in
                let key: Data = row["key"]
                let value: Data = row["value"]
                return (key: [UInt8](key), value: [UInt8](value))
            }
        } catch {
            throw .storage("\(error)")
        }
    }

    /// Writes a block's changes.
    func write(_ changes: [StateChange]) throws {
        let upsert = try db.cachedStatement(sql: "INSERT OR REPLACE INTO state (key, value) VALUES (?, ?)")
        let delete = try db.cachedStatement(sql: "DELETE FROM state WHERE key = ?")
        for change in changes {
            if let value = change.newValue {
                try upsert.execute(arguments: [Data(change.key), Data(value)])
            } else {
                try delete.execute(arguments: [Data(change.key)])
            }
        }
    }
}
