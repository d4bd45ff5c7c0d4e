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
    let checkpointer: WALCheckpointer

    init(path: String) throws(LedgerError) {
        self.path = path
        checkpointer = WALCheckpointer(path: path)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = FULL")
            // The writer never checkpoints inside a commit: `WALCheckpointer` does it beside it.
            try db.execute(sql: "PRAGMA wal_autocheckpoint = 0")
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

    /// Writes a block's header row; its transactions go in first with `insertTransactions`.
    static func insertBlock(_ db: Database, _ block: SignedBlockHeader) throws {
        try db.execute(
            sql: "INSERT INTO blocks (height, hash, header, signature) VALUES (?, ?, ?, ?)",
            arguments: [
                Int64(block.header.height), Data(block.hash.bytes), Data(block.header.canonicalBytes),
                Data(block.signature.bytes),
            ])
    }

    static func insertTransactions(_ db: Database, height: UInt64, _ transactions: [VerifiedTransaction]) throws {
        let insert = try db.cachedStatement(
            sql: "INSERT INTO transactions (id, height, position, sender, body) VALUES (?, ?, ?, ?, ?)")
        for (position, transaction) in transactions.enumerated() {
            try insert.execute(arguments: [
                Data(transaction.id.bytes), Int64(height), position, Data(transaction.transaction.sender.bytes),
                Data(transaction.encoded),
            ])
        }
    }

    /// Writes transactions as received (a downloaded chain, before verification checks their signatures).
    static func insertTransactions(_ db: Database, height: UInt64, received transactions: [Transaction]) throws {
        let insert = try db.cachedStatement(
            sql: "INSERT INTO transactions (id, height, position, sender, body) VALUES (?, ?, ?, ?, ?)")
        for (position, transaction) in transactions.enumerated() {
            let encoded = transaction.canonicalBytes
            try insert.execute(arguments: [
                Data(Transaction.id(ofEncoded: encoded).bytes), Int64(height), position, Data(transaction.sender.bytes),
                Data(encoded),
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
