import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation
import GRDB

/// One job as the agent keeps it: enough to audit it, challenge it or prove what was paid, long after.
public struct StoredJob: Sendable, Equatable {
    public var request: ChatCompletionRequest
    public var node: PublicKey
    public var endpoint: String
    public var text: String
    public var receipt: JobReceipt
    /// The voucher the agent signed; nil for a job served free.
    public var voucher: Voucher?
    /// Milliseconds since 1970 when the job was recorded.
    public var recordedAt: UInt64

    public init(
        request: ChatCompletionRequest, node: PublicKey, endpoint: String, text: String, receipt: JobReceipt,
        voucher: Voucher?, recordedAt: UInt64
    ) {
        self.request = request
        self.node = node
        self.endpoint = endpoint
        self.text = text
        self.receipt = receipt
        self.voucher = voucher
        self.recordedAt = recordedAt
    }
}

/// Why the receipt store refused to open, write or read.
public enum ReceiptStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    case storage(String)
    /// A stored row no longer checks out (edited, or corrupted): its receipt, voucher and output disagree.
    case tampered(jobID: String, reason: String)

    public var description: String {
        switch self {
        case .storage(let why): return "receipt store: \(why)"
        case .tampered(let jobID, let reason): return "receipt store: job \(jobID) does not check out: \(reason)"
        }
    }
}

/// The agent's durable record of every job it paid for (SQLite, WAL, file mode 0600).
///
/// An agent's evidence must outlive the process: a challenge can be filed only after the node settles, an
/// audit may run later, and a dispute needs the request that was revealed and the receipt the node signed.
/// The file holds the agent's own prompts and answers, so it is created readable by its owner only. Every
/// row is checked again when read — receipt signature, voucher, output hash — so an edited row is reported,
/// never trusted.
public final class ReceiptStore: Sendable {
    private let queue: DatabaseQueue
    public let path: String

    public init(path: String) throws(ReceiptStoreError) {
        self.path = path
        do {
            if !FileManager.default.fileExists(atPath: path) {
                guard
                    FileManager.default.createFile(atPath: path, contents: nil, attributes: [.posixPermissions: 0o600])
                else { throw ReceiptStoreError.storage("cannot create \(path)") }
            }
            var configuration = Configuration()
            configuration.busyMode = .timeout(10)
            configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = FULL") }
            queue = try DatabaseQueue(path: path, configuration: configuration)
            try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = WAL") }
            var migrator = DatabaseMigrator()
            migrator.registerMigration("v1") { db in
                try db.execute(
                    sql: """
                        CREATE TABLE jobs (
                            job_id BLOB PRIMARY KEY, node BLOB NOT NULL, endpoint TEXT NOT NULL,
                            request TEXT NOT NULL, text TEXT NOT NULL, receipt BLOB NOT NULL, voucher BLOB,
                            recorded_at INTEGER NOT NULL);
                        """)
            }
            try migrator.migrate(queue)
        } catch let error as ReceiptStoreError {
            throw error
        } catch {
            throw .storage("cannot open \(path): \(error)")
        }
    }

    /// Records a job (durably, before returning). Recording the same job again is a no-op.
    public func record(_ job: StoredJob) throws(ReceiptStoreError) {
        do {
            let request = String(decoding: try JSONEncoder().encode(job.request), as: UTF8.self)
            try queue.write { db in
                try db.execute(
                    sql: """
                        INSERT OR IGNORE INTO jobs (job_id, node, endpoint, request, text, receipt, voucher, recorded_at)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        Data(job.receipt.jobID.bytes), Data(job.node.bytes), job.endpoint, request, job.text,
                        Data(job.receipt.canonicalBytes), job.voucher.map { Data($0.canonicalBytes) },
                        Int64(clamping: job.recordedAt),
                    ])
            }
        } catch {
            throw .storage("cannot record job \(job.receipt.jobID.short)…: \(error)")
        }
    }

    /// Every recorded job, oldest first, each checked again.
    public func jobs() throws(ReceiptStoreError) -> [StoredJob] {
        let rows: [Row]
        do {
            rows = try queue.read { db in try Row.fetchAll(db, sql: "SELECT * FROM jobs ORDER BY recorded_at, rowid") }
        } catch {
            throw .storage("cannot read \(path): \(error)")
        }
        var jobs: [StoredJob] = []
        for row in rows { jobs.append(try Self.decode(row)) }
        return jobs
    }

    /// One job by id, checked; nil when the agent never recorded it.
    public func job(_ id: Hash256) throws(ReceiptStoreError) -> StoredJob? {
        let row: Row?
        do {
            row = try queue.read { db in
                try Row.fetchOne(db, sql: "SELECT * FROM jobs WHERE job_id = ?", arguments: [Data(id.bytes)])
            }
        } catch {
            throw .storage("cannot read \(path): \(error)")
        }
        return try row.map { row throws(ReceiptStoreError) in try Self.decode(row) }
    }

    private static func decode(_ row: Row) throws(ReceiptStoreError) -> StoredJob {
        let idBytes: Data = row["job_id"]
        let jobID = idBytes.map { String(format: "%02x", $0) }.joined()
        func tampered(_ reason: String) -> ReceiptStoreError { .tampered(jobID: jobID, reason: reason) }
        let job: StoredJob
        do {
            let receiptBytes: Data = row["receipt"]
            let voucherBytes: Data? = row["voucher"]
            let nodeBytes: Data = row["node"]
            let requestText: String = row["request"]
            guard let node = PublicKey(bytes: [UInt8](nodeBytes)) else { throw tampered("malformed node key") }
            job = StoredJob(
                request: try JSONDecoder().decode(ChatCompletionRequest.self, from: Data(requestText.utf8)),
                node: node, endpoint: row["endpoint"], text: row["text"],
                receipt: try JobReceipt(canonicalBytes: [UInt8](receiptBytes)),
                voucher: try voucherBytes.map { try Voucher(canonicalBytes: [UInt8]($0)) },
                recordedAt: UInt64(clamping: row["recorded_at"] as Int64))
        } catch let error as ReceiptStoreError {
            throw error
        } catch {
            throw tampered("undecodable: \(error)")
        }
        guard Data(job.receipt.jobID.bytes) == idBytes, job.receipt.node == job.node else {
            throw tampered("the row's job id or node differs from its receipt")
        }
        do {
            if let voucher = job.voucher {
                try ReceiptVerifier.verify(job.receipt, voucher: voucher, output: job.text)
            } else {
                try ReceiptVerifier.verify(job.receipt)
                guard job.receipt.outputHash == ReceiptVerifier.outputHash(job.text) else {
                    throw ReceiptVerifier.Failure.outputMismatch
                }
            }
        } catch {
            throw tampered("\(error)")
        }
        return job
    }
}

extension StoredJob {
    /// The record of a job the agent just hired.
    public init(_ hired: HiredJob, recordedAt: Date = Date()) {
        self.init(
            request: hired.request, node: hired.node, endpoint: hired.endpoint, text: hired.result.text,
            receipt: hired.receipt, voucher: hired.result.voucher,
            recordedAt: UInt64(max(0, recordedAt.timeIntervalSince1970 * 1000)))
    }
}
