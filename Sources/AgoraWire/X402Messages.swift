import AgoraCore
import AgoraLedger
import Foundation

/// x402 version 2 messages as published (specs/transports-v2/http.md), with Agora's terms in `extra`.
///
/// The 402 answer carries `PAYMENT-REQUIRED` (base64 of `PaymentRequired`); the client retries with
/// `PAYMENT-SIGNATURE` (base64 of `PaymentPayload`, whose `payload` holds the signed voucher); the paid answer
/// carries `PAYMENT-RESPONSE` (base64 of `SettlementResponse`, with the signed receipt in `extensions`).
public enum X402 {
    public static let version = 2
    public static let scheme = "upto"
    public static let asset = "AGR"
    public static let paymentRequiredHeader = "PAYMENT-REQUIRED"
    public static let paymentSignatureHeader = "PAYMENT-SIGNATURE"
    public static let paymentResponseHeader = "PAYMENT-RESPONSE"

    public static func network(chainID: String) -> String { "agora:\(chainID)" }

    public struct ResourceInfo: Codable, Sendable, Equatable {
        public var url: String
        public var description: String?
        public var mimeType: String?

        public init(url: String, description: String? = nil, mimeType: String? = nil) {
            self.url = url
            self.description = description
            self.mimeType = mimeType
        }
    }

    /// Agora's fields in `accepts[].extra`.
    public struct AgoraTerms: Codable, Sendable, Equatable {
        public var jobId: Hash256
        public var modelHash: Hash256
        public var inputHash: Hash256
        public var seed: UInt64
        public var chainId: String
        public var pricePerInputToken: Amount
        public var pricePerOutputToken: Amount
        public var promptTokens: Int
        public var maxOutputTokens: Int
        /// Unix seconds after which the node will not serve on a voucher for this job.
        public var expiry: UInt64

        public init(
            jobId: Hash256, modelHash: Hash256, inputHash: Hash256, seed: UInt64, chainId: String,
            pricePerInputToken: Amount, pricePerOutputToken: Amount, promptTokens: Int, maxOutputTokens: Int,
            expiry: UInt64
        ) {
            self.jobId = jobId
            self.modelHash = modelHash
            self.inputHash = inputHash
            self.seed = seed
            self.chainId = chainId
            self.pricePerInputToken = pricePerInputToken
            self.pricePerOutputToken = pricePerOutputToken
            self.promptTokens = promptTokens
            self.maxOutputTokens = maxOutputTokens
            self.expiry = expiry
        }
    }

    public struct PaymentRequirements: Codable, Sendable, Equatable {
        public var scheme: String
        public var network: String
        public var asset: String
        /// The most the job can cost, in micro-units (the voucher's cap).
        public var amount: String
        public var payTo: String
        public var maxTimeoutSeconds: Int
        public var extra: AgoraTerms

        public init(
            scheme: String, network: String, asset: String, amount: String, payTo: String, maxTimeoutSeconds: Int,
            extra: AgoraTerms
        ) {
            self.scheme = scheme
            self.network = network
            self.asset = asset
            self.amount = amount
            self.payTo = payTo
            self.maxTimeoutSeconds = maxTimeoutSeconds
            self.extra = extra
        }

        /// The first field (by JSON path) where `self` differs from `issued`, with both values as text.
        public func firstDifference(from issued: PaymentRequirements) -> (field: String, expected: String, got: String)?
        {
            let (a, b) = (issued, self)
            let (x, y) = (issued.extra, extra)
            let pairs: [(String, String, String)] = [
                ("scheme", a.scheme, b.scheme), ("network", a.network, b.network), ("asset", a.asset, b.asset),
                ("amount", a.amount, b.amount), ("payTo", a.payTo, b.payTo),
                ("maxTimeoutSeconds", "\(a.maxTimeoutSeconds)", "\(b.maxTimeoutSeconds)"),
                ("extra.jobId", x.jobId.hex, y.jobId.hex), ("extra.modelHash", x.modelHash.hex, y.modelHash.hex),
                ("extra.inputHash", x.inputHash.hex, y.inputHash.hex), ("extra.seed", "\(x.seed)", "\(y.seed)"),
                ("extra.chainId", x.chainId, y.chainId),
                (
                    "extra.pricePerInputToken", "\(x.pricePerInputToken.microUnits)",
                    "\(y.pricePerInputToken.microUnits)"
                ),
                (
                    "extra.pricePerOutputToken", "\(x.pricePerOutputToken.microUnits)",
                    "\(y.pricePerOutputToken.microUnits)"
                ),
                ("extra.promptTokens", "\(x.promptTokens)", "\(y.promptTokens)"),
                ("extra.maxOutputTokens", "\(x.maxOutputTokens)", "\(y.maxOutputTokens)"),
                ("extra.expiry", "\(x.expiry)", "\(y.expiry)"),
            ]
            return pairs.first { $0.1 != $0.2 }.map { (field: $0.0, expected: $0.1, got: $0.2) }
        }
    }

    /// Why a payment was refused, in `PaymentRequired.extensions.agora`: a documented code
    /// (docs/protocol.md §11.2), a message for people, and the JSON path of the field at fault, if one is.
    public struct Refusal: Codable, Sendable, Equatable {
        public var code: String
        public var message: String
        public var field: String?

        public init(code: String, message: String, field: String? = nil) {
            self.code = code
            self.message = message
            self.field = field
        }
    }

    public struct PaymentRequiredExtensions: Codable, Sendable, Equatable {
        public var agora: Refusal?

        public init(agora: Refusal?) { self.agora = agora }
    }

    public struct PaymentRequired: Codable, Sendable, Equatable {
        public var x402Version: Int
        /// For people: "payment required", or why the payment sent was refused.
        public var error: String?
        public var resource: ResourceInfo?
        public var accepts: [PaymentRequirements]
        /// Set when a payment was refused: `agora` says why, with its code.
        public var extensions: PaymentRequiredExtensions?

        public init(
            x402Version: Int, error: String? = nil, resource: ResourceInfo? = nil, accepts: [PaymentRequirements],
            extensions: PaymentRequiredExtensions? = nil
        ) {
            self.x402Version = x402Version
            self.error = error
            self.resource = resource
            self.accepts = accepts
            self.extensions = extensions
        }
    }

    /// The scheme payload: the payer's signed voucher.
    public struct VoucherPayload: Codable, Sendable, Equatable {
        public var voucher: Voucher

        public init(voucher: Voucher) {
            self.voucher = voucher
        }
    }

    public struct PaymentPayload: Codable, Sendable, Equatable {
        public var x402Version: Int
        public var payload: VoucherPayload
        public var accepted: PaymentRequirements
        public var resource: ResourceInfo?

        public init(
            x402Version: Int, payload: VoucherPayload, accepted: PaymentRequirements, resource: ResourceInfo? = nil
        ) {
            self.x402Version = x402Version
            self.payload = payload
            self.accepted = accepted
            self.resource = resource
        }
    }

    /// Where an accepted payment stands when the answer leaves the node.
    public enum SettlementState: String, Codable, Sendable, Equatable {
        /// A streamed answer's headers: the voucher is accepted and its cap reserved; the job is running and
        /// its receipt comes in the stream's last event.
        case reserved
        /// The job is done, its receipt signed and its settlement queued durably on the node; the node
        /// submits it to the ledger shortly, where the payer can look it up by job id.
        case pending
    }

    /// Agora's part of `PAYMENT-RESPONSE`, in `extensions.agora`.
    public struct Settlement: Codable, Sendable, Equatable {
        public var status: SettlementState
        /// What the ledger settles the payment under (`GET /v1/ledger/jobs/{jobId}`).
        public var jobId: Hash256
        /// The signed receipt; absent while `reserved`.
        public var receipt: JobReceipt?
        /// The ledger RPC's base URL, when the node settles on one reachable over HTTP.
        public var ledger: String?

        public init(status: SettlementState, jobId: Hash256, receipt: JobReceipt? = nil, ledger: String? = nil) {
            self.status = status
            self.jobId = jobId
            self.receipt = receipt
            self.ledger = ledger
        }
    }

    public struct SettlementExtensions: Codable, Sendable, Equatable {
        public var agora: Settlement

        public init(agora: Settlement) { self.agora = agora }
    }

    /// x402's settlement response. Agora settles later, in batches, so `success` means the payment was
    /// accepted, `transaction` stays empty (there is no ledger transaction yet), and `extensions.agora`
    /// says where the settlement stands.
    public struct SettlementResponse: Codable, Sendable, Equatable {
        public var success: Bool
        public var errorReason: String?
        public var payer: String?
        /// Empty: the settlement is not on the ledger yet (see `extensions.agora.status`).
        public var transaction: String
        public var network: String
        /// What the job charged, in µ; absent while `reserved`.
        public var amount: String?
        public var extensions: SettlementExtensions?

        public init(
            success: Bool, errorReason: String? = nil, payer: String? = nil, transaction: String = "",
            network: String, amount: String? = nil, extensions: SettlementExtensions? = nil
        ) {
            self.success = success
            self.errorReason = errorReason
            self.payer = payer
            self.transaction = transaction
            self.network = network
            self.amount = amount
            self.extensions = extensions
        }
    }

    /// base64(JSON) as the transport puts it in a header.
    public static func encodeHeader<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(value).base64EncodedString()
    }

    /// Decodes a header, refusing oversized or malformed values with a clear reason.
    public static func decodeHeader<Value: Decodable>(_ type: Value.Type, from header: String) throws(RequestError)
        -> Value
    {
        guard header.utf8.count <= 16 * 1024 else {
            throw RequestError("payment header is larger than 16 KiB", code: "invalid_payment")
        }
        guard let data = Data(base64Encoded: header.trimmingCharacters(in: .whitespaces)) else {
            throw RequestError("payment header is not base64", code: "invalid_payment")
        }
        do {
            return try JSONDecoder().decode(Value.self, from: data)
        } catch let error as DecodingError {
            throw RequestError("payment header: \(describe(error))", code: "invalid_payment")
        } catch {
            throw RequestError("payment header is not JSON", code: "invalid_payment")
        }
    }

    /// A decoding failure in words, naming the field by its JSON path (never the decoder's own dump).
    static func describe(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let all = keys + (last.map { [$0] } ?? [])
            let text = all.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
            return text.isEmpty ? "the top level" : "'\(text.replacingOccurrences(of: ".[", with: "["))'"
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing field \(path(context.codingPath, key))"
        case .typeMismatch(_, let context): return "wrong type for \(path(context.codingPath))"
        case .valueNotFound(_, let context): return "missing value for \(path(context.codingPath))"
        case .dataCorrupted(let context):
            return context.codingPath.isEmpty ? "not valid JSON" : "invalid value for \(path(context.codingPath))"
        @unknown default: return "not a valid payment payload"
        }
    }
}
