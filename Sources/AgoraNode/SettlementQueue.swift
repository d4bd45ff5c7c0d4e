import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation
import GRDB

/// A voucher and the node's receipt for it, waiting to be settled on the ledger.
public struct PendingSettlement: Sendable, Equatable {
    public var voucher: Voucher
    public var receipt: JobReceipt

    public init(voucher: Voucher, receipt: JobReceipt) {
        self.voucher = voucher
        self.receipt = receipt
    }
}

/// What happened when pending settlements were submitted.
public struct SettlementReport: Sendable, Equatable {
    public var settled: Int = 0
    /// Every job that left the queue (settled or refused), with its voucher's expiry: the node remembers them
    /// until then, so a replayed voucher is refused without asking the ledger.
    public var finished: [Hash256: UInt64] = [:]
    /// Refused by the ledger for good (e.g. the payer's deposit ran dry): dropped, and counted.
    public var refused: [Hash256: TransactionError] = [:]
    public var stillPending: Int = 0
}

/// What the ledger did with one settlement.
public enum SettlementResult: Sendable, Equatable {
    /// Settled now, or already settled earlier (e.g. before a crash): done either way.
    case settled
    /// Refused for good, with the ledger's typed reason (e.g. the payer's deposit ran dry).
    case refused(TransactionError)
}

/// Settle transactions for pending settlements, and what each verdict means for the queue.
enum SettlementTransactions {
    static func sign(_ items: [PendingSettlement], by node: SigningKey, chainID: String, after nonce: UInt64)
        -> [(transaction: Transaction, jobID: Hash256)]
    {
        var nonce = nonce
        return items.map { item in
            nonce += 1
            let transaction = Transaction.signed(
                by: node, chainID: chainID, nonce: nonce, body: .settleJob(voucher: item.voucher, receipt: item.receipt)
            )
            return (transaction, item.voucher.jobID)
        }
    }

    /// Submits the settlements signed with consecutive nonces and waits for the verdicts. A job missing from
    /// the answer stays pending (not decided yet, or refused for a reason that may pass: a full queue, a nonce
    /// raced by another transaction of the node's key, a storage failure).
    static func settle(_ items: [PendingSettlement], on ledger: any LedgerAccess, signedBy node: SigningKey)
        async throws(LedgerAccessError) -> [Hash256: SettlementResult]
    {
        let nonce = try await ledger.account(node.publicKey).nonce
        let signed = sign(items, by: node, chainID: ledger.chainID, after: nonce)
        let verdicts = try await ledger.submit(signed.map(\.transaction), wait: true)
        var results: [Hash256: SettlementResult] = [:]
        for ((_, jobID), verdict) in zip(signed, verdicts) {
            switch verdict.verdict {
            case .accepted: results[jobID] = .settled
            case .queued: continue
            case .rejected(.jobAlreadySettled): results[jobID] = .settled
            case .rejected(let error) where error.isTransient: continue
            case .rejected(let error): results[jobID] = .refused(error)
            }
        }
        return results
    }
}

/// Pending settlements, kept in SQLite so none is lost when the node stops or crashes between serving a job
/// and settling it. A settlement is written before the paid answer is sent.
///
/// The file is in WAL mode; how far a write is synced before the answer leaves is the operator's choice
/// (`Durability`), because on these disks a sync is most of the cost of a paid request.
public final class SettlementQueue: @unchecked Sendable {
    /// What a recorded settlement survives before the answer is sent.
    public enum Durability: String, Sendable, CaseIterable {
        /// The write has reached the operating system: it survives the node process crashing or being
        /// killed, not an OS crash or power cut (SQLite WAL with `synchronous = NORMAL`). The default: what
        /// could be lost is the node's own fee for the last few jobs, never the payer's money.
        case process
        /// The write is synced to the disk (`synchronous = FULL`): survives power loss too, for about a disk
        /// sync per paid request.
        case power
    }

    private let database: DatabaseQueue
    public let durability: Durability

    public init(path: String, durability: Durability = .process) throws {
        self.durability = durability
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(durability == .power ? "FULL" : "NORMAL")")
        }
        database = try DatabaseQueue(path: path, configuration: configuration)
        try database.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
        try database.write { db in
            try db.execute(
                sql: """
                    CREATE TABLE IF NOT EXISTS pending (
                        job_id BLOB PRIMARY KEY, voucher BLOB NOT NULL, receipt BLOB NOT NULL, created INTEGER NOT NULL)
                    """)
            // Jobs that left the queue, kept until their voucher expires (after that the voucher is refused
            // for its expiry anyway): the node's own index of used job ids.
            try db.execute(
                sql: "CREATE TABLE IF NOT EXISTS finished (job_id BLOB PRIMARY KEY, expiry INTEGER NOT NULL)")
        }
    }

    public func enqueue(_ item: PendingSettlement) throws {
        try database.write { db in
            try db.execute(
                sql: "INSERT OR REPLACE INTO pending (job_id, voucher, receipt, created) VALUES (?, ?, ?, ?)",
                arguments: [
                    Data(item.voucher.jobID.bytes), Data(item.voucher.canonicalBytes),
                    Data(item.receipt.canonicalBytes),
                    Int64(Date().timeIntervalSince1970),
                ])
        }
    }

    public func pending() throws -> [PendingSettlement] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT voucher, receipt FROM pending ORDER BY created, job_id").map { row in
                let voucher: Data = row["voucher"]
                let receipt: Data = row["receipt"]
                return PendingSettlement(
                    voucher: try Voucher(canonicalBytes: [UInt8](voucher)),
                    receipt: try JobReceipt(canonicalBytes: [UInt8](receipt)))
            }
        }
    }

    /// Jobs that left the queue and whose vouchers have not expired at `now` (Unix seconds); older ones are
    /// dropped.
    public func finishedJobs(now: UInt64) throws -> [Hash256: UInt64] {
        try database.write { db in
            try db.execute(sql: "DELETE FROM finished WHERE expiry < ?", arguments: [Int64(clamping: now)])
            var jobs: [Hash256: UInt64] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT job_id, expiry FROM finished") {
                let id: Data = row["job_id"]
                let expiry: Int64 = row["expiry"]
                if let hash = Hash256(bytes: [UInt8](id)) { jobs[hash] = UInt64(max(expiry, 0)) }
            }
            return jobs
        }
    }

    public var count: Int {
        (try? database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM pending") }) ?? 0
    }

    /// Submits everything pending in one batch; removes what the ledger settled or refused for good. The
    /// SQLite reads and writes run on a GCD thread, the ledger calls are asynchronous.
    @discardableResult
    public func flush(to ledger: any LedgerAccess, node: SigningKey) async throws -> SettlementReport {
        let items = try await offCooperativePool { try self.pending() }
        guard !items.isEmpty else { return SettlementReport() }
        let results = try await SettlementTransactions.settle(items, on: ledger, signedBy: node)
        return try await offCooperativePool {
            var report = SettlementReport()
            try self.database.write { db in
                for item in items {
                    guard let result = results[item.voucher.jobID] else { continue }
                    try db.execute(
                        sql: "DELETE FROM pending WHERE job_id = ?", arguments: [Data(item.voucher.jobID.bytes)])
                    try db.execute(
                        sql: "INSERT OR REPLACE INTO finished (job_id, expiry) VALUES (?, ?)",
                        arguments: [Data(item.voucher.jobID.bytes), Int64(clamping: item.voucher.expiry)])
                    report.finished[item.voucher.jobID] = item.voucher.expiry
                    switch result {
                    case .refused(let reason):
                        report.refused[item.voucher.jobID] = reason
                    case .settled:
                        report.settled += 1
                    }
                }
            }
            report.stillPending = self.count
            return report
        }
    }
}
