import AgoraCore
import AgoraLedger
import Foundation

/// The wire format of the ledger RPC (`agora ledger serve`): JSON over HTTP. Records travel as JSON (amounts
/// as integer micro-units, keys as addresses, hashes as hex); everything a verifier must not take on trust —
/// genesis, block headers, transactions — travels as base64 of its canonical bytes, so a client recomputes
/// every hash and checks every signature itself.
///
/// Routes (all under `/v1/ledger/`):
/// - `GET info`, `GET genesis`, `GET totals`
/// - `GET head[?after=H&wait_ms=T]`: the head; with `after`, waits up to `T` ms for a block above `H`
/// - `GET accounts/{address}`, `nodes/{address}`, `models/{hash}`, `datasets/{hash}`, `jobs/{id}`,
///   `challenges/{job id}`, `transactions/{id}`: one record, 404 when absent
/// - `GET nodes|models|datasets|challenges[?after=CURSOR&limit=N]`: a page (`challenges` lists open ones)
/// - `GET blocks?from=H&count=N`: blocks with their transactions (N ≤ `LedgerLimits.maxBlocksPerQuery`)
/// - `POST transactions`: `{"transactions": [base64…], "wait": true}` → one `SubmissionResult` each
///
/// Every non-2xx answer is an `ErrorBody`; a 400 carries the typed `LedgerQueryError`.
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
        public var genesisHash: String
        public var parameters: ChainParameters

        public init(chainId: String, height: UInt64, headHash: String, genesisHash: String, parameters: ChainParameters)
        {
            self.chainId = chainId
            self.height = height
            self.headHash = headHash
            self.genesisHash = genesisHash
            self.parameters = parameters
        }
    }

    /// `GET /v1/ledger/genesis`: the canonical genesis bytes.
    public struct GenesisBody: Codable, Sendable {
        public var genesis: String

        public init(_ genesis: Genesis) { self.genesis = Data(genesis.canonicalBytes).base64EncodedString() }

        public func decode() throws(LedgerAccessError) -> Genesis {
            guard let bytes = Data(base64Encoded: genesis) else { throw .protocolViolation("genesis is not base64") }
            do { return try Genesis(canonicalBytes: [UInt8](bytes)) } catch {
                throw .protocolViolation("genesis does not decode: \(error)")
            }
        }
    }

    /// A block header with its signature, as canonical bytes.
    public struct HeaderBody: Codable, Sendable {
        public var header: String
        public var signature: String

        public init(_ block: SignedBlockHeader) {
            header = Data(block.header.canonicalBytes).base64EncodedString()
            signature = Data(block.signature.bytes).base64EncodedString()
        }

        public func decode() throws(LedgerAccessError) -> SignedBlockHeader {
            guard let headerBytes = Data(base64Encoded: header), let signatureBytes = Data(base64Encoded: signature),
                let signature = Signature(bytes: [UInt8](signatureBytes))
            else { throw .protocolViolation("block header or signature is not base64 of the right size") }
            do {
                return SignedBlockHeader(
                    header: try BlockHeader(canonicalBytes: [UInt8](headerBytes)), signature: signature)
            } catch { throw .protocolViolation("block header does not decode: \(error)") }
        }
    }

    /// One block of `GET /v1/ledger/blocks`.
    public struct BlockBody: Codable, Sendable {
        public var block: HeaderBody
        public var transactions: [String]

        public init(_ entry: BlockEntry) {
            block = HeaderBody(entry.block)
            transactions = entry.transactions.map { Data($0.canonicalBytes).base64EncodedString() }
        }

        public func decode() throws(LedgerAccessError) -> BlockEntry {
            var decoded: [Transaction] = []
            for encoded in transactions {
                guard let bytes = Data(base64Encoded: encoded) else {
                    throw .protocolViolation("a transaction is not base64")
                }
                do { decoded.append(try Transaction.decode([UInt8](bytes))) } catch {
                    throw .protocolViolation("a transaction does not decode: \(error)")
                }
            }
            return BlockEntry(block: try block.decode(), transactions: decoded)
        }
    }

    /// `GET /v1/ledger/search`: the ranked matches (`MarketSearch`).
    public struct SearchBody: Codable, Sendable {
        public var results: [MarketSearch.Match]
        public init(results: [MarketSearch.Match]) { self.results = results }
    }

    public struct BlocksBody: Codable, Sendable {
        public var blocks: [BlockBody]
        public init(blocks: [BlockBody]) { self.blocks = blocks }
    }

    /// `GET /v1/ledger/transactions/{id}`.
    public struct TransactionBody: Codable, Sendable {
        public var transaction: String
        public var height: UInt64
        public var position: Int

        public init(_ location: TransactionLocation) {
            transaction = Data(location.transaction.canonicalBytes).base64EncodedString()
            height = location.height
            position = location.position
        }

        public func decode() throws(LedgerAccessError) -> TransactionLocation {
            guard let bytes = Data(base64Encoded: transaction) else {
                throw .protocolViolation("the transaction is not base64")
            }
            do {
                return TransactionLocation(
                    transaction: try Transaction.decode([UInt8](bytes)), height: height, position: position)
            } catch { throw .protocolViolation("the transaction does not decode: \(error)") }
        }
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

    /// The error body of every non-2xx answer; `reason` is set on a 400 for a malformed query.
    public struct ErrorBody: Codable, Sendable {
        public var error: String
        public var reason: LedgerQueryError?

        public init(error: String, reason: LedgerQueryError? = nil) {
            self.error = error
            self.reason = reason
        }
    }
}
