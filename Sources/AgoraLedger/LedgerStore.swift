import AgoraCore
import Foundation
import GRDB

/// The ledger's SQLite file: blocks, transactions, the state map and a little metadata.
///
/// WAL mode with `synchronous = FULL`: a block and all of its state changes commit in one SQL transaction,
/// so after a crash (even a kill in the middle of a commit) the file holds exactly the blocks that were
/// committed, each with its state.
final class LedgerStore: Sendable {
    let pool: DatabasePool
    let path: String

    init(path: String) throws(LedgerError) {
        self.path = path
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
        }
        do {
            pool = try DatabasePool(path: path, configuration: configuration)
            try Self.migrator.migrate(pool)
        } catch {
            throw .storage("cannot open \(path): \(error)")
        }
    }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL);
                    CREATE TABLE blocks (
                        height INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE,
                        header BLOB NOT NULL, signature BLOB NOT NULL);
                    CREATE TABLE transactions (
                        id BLOB PRIMARY KEY, height INTEGER NOT NULL, position INTEGER NOT NULL,
                        sender BLOB NOT NULL, body BLOB NOT NULL);
                    CREATE UNIQUE INDEX transactions_by_block ON transactions (height, position);
                    CREATE INDEX transactions_by_sender ON transactions (sender, height);
                    CREATE TABLE state (key BLOB PRIMARY KEY, value BLOB NOT NULL) WITHOUT ROWID;
                    """)
        }
        return migrator
    }

    static func meta(_ db: Database, _ key: String) throws -> [UInt8]? {
        try Data.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]).map { [UInt8]($0) }
    }

    static func setMeta(_ db: Database, _ key: String, _ value: [UInt8]) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, Data(value)])
    }

    static func insertBlock(_ db: Database, _ block: SignedBlockHeader, _ transactions: [Transaction]) throws {
        try db.execute(
            sql: "INSERT INTO blocks (height, hash, header, signature) VALUES (?, ?, ?, ?)",
            arguments: [
                Int64(block.header.height), Data(block.hash.bytes), Data(block.header.canonicalBytes),
                Data(block.signature.bytes),
            ])
        let insert = try db.cachedStatement(
            sql: "INSERT INTO transactions (id, height, position, sender, body) VALUES (?, ?, ?, ?, ?)")
        for (position, transaction) in transactions.enumerated() {
            try insert.execute(arguments: [
                Data(transaction.id.bytes), Int64(block.header.height), position, Data(transaction.sender.bytes),
                Data(transaction.canonicalBytes),
            ])
        }
    }

    static func block(_ db: Database, height: UInt64) throws -> SignedBlockHeader? {
        guard
            let row = try Row.fetchOne(
                db, sql: "SELECT header, signature FROM blocks WHERE height = ?", arguments: [Int64(height)])
        else { return nil }
        let headerBytes: Data = row["header"]
        let signatureBytes: Data = row["signature"]
        let header = try BlockHeader(canonicalBytes: [UInt8](headerBytes))
        guard let signature = Signature(bytes: [UInt8](signatureBytes)) else {
            throw LedgerError.corruptState("block \(height) has a malformed signature")
        }
        return SignedBlockHeader(header: header, signature: signature)
    }

    static func transactions(_ db: Database, height: UInt64) throws -> [Transaction] {
        try Data.fetchAll(
            db, sql: "SELECT body FROM transactions WHERE height = ? ORDER BY position", arguments: [Int64(height)]
        ).map { data throws in try Transaction.decode([UInt8](data)) }
    }
}
