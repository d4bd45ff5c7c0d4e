import AgoraCore
import AgoraLedger
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
    public var settledJobs: [Hash256] = []
    /// Refused by the ledger for good (e.g. the payer's deposit ran dry): dropped, and counted.
    public var refused: [Hash256: String] = [:]
    public var stillPending: Int = 0
}

/// What the ledger did with one settlement.
public enum SettlementResult: Sendable, Equatable {
    /// Settled now, or already settled earlier (e.g. before a crash): done either way.
    case settled
    /// Refused for good, with the ledger's reason (e.g. the payer's deposit ran dry).
    case refused(String)
}

/// Settles vouchers on a ledger: the embedded `Ledger`, or a `RemoteLedger` over HTTP.
public protocol SettlementLedger: Sendable {
    /// Submits settle transactions signed by `node`; returns the result per job id. Jobs missing from the
    /// answer stay pending; a failure to reach the ledger throws.
    func settle(_ items: [PendingSettlement], signedBy node: SigningKey) throws -> [Hash256: SettlementResult]
}

extension Ledger: SettlementLedger {
    public func settle(_ items: [PendingSettlement], signedBy node: SigningKey) throws -> [Hash256: SettlementResult] {
        let transactions = try SettlementTransactions.sign(
            items, by: node, chainID: chainID, after: account(node.publicKey).nonce)
        let outcome = try produceBlock(transactions.map(\.transaction))
        var rejected: [Hash256: TransactionError] = [:]
        for (id, error) in outcome.rejected { rejected[id] = error }
        var results: [Hash256: SettlementResult] = [:]
        for (transaction, jobID) in transactions {
            results[jobID] = SettlementTransactions.result(rejected[transaction.id])
        }
        return results
    }
}

/// Settle transactions for pending settlements, and how a refusal reads.
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

    /// A job settled earlier (e.g. before a crash) is done, not refused.
    static func result(_ error: TransactionError?) -> SettlementResult {
        guard let error else { return .settled }
        if case .jobAlreadySettled = error { return .settled }
        return .refused(error.description)
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

    public var count: Int {
        (try? database.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM pending") }) ?? 0
    }

    /// Submits everything pending in one batch; removes what the ledger settled or refused for good.
    @discardableResult
    public func flush(to ledger: any SettlementLedger, node: SigningKey) throws -> SettlementReport {
        let items = try pending()
        var report = SettlementReport()
        guard !items.isEmpty else { return report }
        let results = try ledger.settle(items, signedBy: node)
        try database.write { db in
            for item in items {
                guard let result = results[item.voucher.jobID] else { continue }
                try db.execute(sql: "DELETE FROM pending WHERE job_id = ?", arguments: [Data(item.voucher.jobID.bytes)])
                switch result {
                case .refused(let reason):
                    report.refused[item.voucher.jobID] = reason
                case .settled:
                    report.settled += 1
                    report.settledJobs.append(item.voucher.jobID)
                }
            }
        }
        report.stillPending = count
        return report
    }
}
