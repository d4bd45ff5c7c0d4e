import AgoraCore
import AgoraLedger
import Foundation

/// The wire format of the ledger RPC (`agora ledger serve`): JSON over HTTP, transactions in their canonical
/// encoding (base64), amounts as integer micro-units, ids as hex.
///
/// It exists so that nodes, agents and the sequencer can run as separate processes, on separate machines:
/// a node started with `--ledger http://…` checks deposits and settles through it.
public enum LedgerRPC {
    /// Most transactions in one submission.
    public static let maxBatch = 1_000
    /// Largest request body accepted (a full batch of maximal transactions would not fit; real ones do).
    public static let maxBodyBytes = 4 * 1024 * 1024

    /// `GET /v1/ledger/info`.
    public struct Info: Codable, Sendable, Equatable {
        public var chainId: String
        public var height: UInt64
        public var headHash: String
        public var parameters: ChainParameters
    }

    /// `POST /v1/ledger/transactions`: submitted in order; with `wait`, the answer comes once each is in a
    /// block or refused.
    public struct Submission: Codable, Sendable {
        public var transactions: [String]
        public var wait: Bool?

        public init(transactions: [Transaction], wait: Bool) {
            self.transactions = transactions.map { Data($0.canonicalBytes).base64EncodedString() }
            self.wait = wait
        }
    }

    public struct SubmissionResult: Codable, Sendable, Equatable {
        public enum Status: String, Codable, Sendable {
            /// In the queue (the submission did not wait).
            case queued
            /// Committed in block `height`.
            case accepted
            /// Refused at the door or by the block producer; `error` says why.
            case rejected
        }
        public var id: String
        public var status: Status
        public var height: UInt64?
        public var error: String?
        /// A settlement refused only because the job was settled before (counts as done).
        public var alreadySettled: Bool?
    }

    /// `GET /v1/ledger/jobs/{id}`: 404 when the job was never settled.
    public struct JobStatus: Codable, Sendable, Equatable {
        public var id: String
        public var record: JobRecord
    }

    /// The error body of every non-2xx answer.
    public struct ErrorBody: Codable, Sendable {
        public var error: String
    }
}
