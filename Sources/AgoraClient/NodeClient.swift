import AgoraCore
import AgoraLedger
import AgoraWire
import Crypto
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A completed (and, when paid, verified) job as the client sees it.
public struct ClientCompletion: Sendable {
    public var text: String
    public var finishReason: String?
    public var receipt: JobReceipt
    /// The voucher the client signed; nil when the node served for free.
    public var voucher: Voucher?
    /// The node's terms the voucher paid (sent back as the payment's `accepted`); nil when free.
    public var terms: X402.PaymentRequirements?
    /// The node's `PAYMENT-RESPONSE`, decoded.
    public var settlement: X402.SettlementResponse?
}

/// Why a client call failed.
public enum NodeClientError: Error, Sendable, CustomStringConvertible {
    case http(status: Int, body: String)
    case unexpectedTerms(String)
    case overBudget(asked: Amount, budget: Amount)
    case badReceipt(ReceiptVerifier.Failure)
    case malformedResponse(String)

    public var description: String {
        switch self {
        case .http(let status, let body): return "HTTP \(status): \(body.prefix(300))"
        case .unexpectedTerms(let why): return "refusing the node's payment terms: \(why)"
        case .overBudget(let asked, let budget):
            return "the node asks up to \(asked), above the budget of \(budget) per job"
        case .badReceipt(let failure): return "the node's receipt does not check out: \(failure)"
        case .malformedResponse(let why): return "malformed response: \(why)"
        }
    }
}

/// The client side of a paid job: request → 402 terms → signed voucher → answer + signed receipt, with the
/// receipt checked against the voucher, the terms and the output before the result is returned.
///
/// It recomputes the input hash from its own request, so a node cannot get a voucher for a request other
/// than the one sent; checks that the terms' amount is what their prices and token counts give; and
/// refuses terms above its per-job budget. Job ids are the node's (docs/protocol.md §3.4), so every paid
/// job takes the 402 round trip.
public struct NodeClient: Sendable {
    public let baseURL: URL
    private let wallet: SigningKey
    public var payer: PublicKey { wallet.publicKey }
    public let maxPerJob: Amount
    /// When set, request bodies are sealed to this node key with HPKE and answers are opened with the
    /// exported key (see `BodyEncryption`).
    public let encryptTo: Curve25519.KeyAgreement.PublicKey?

    public init(
        baseURL: URL, wallet: SigningKey, maxPerJob: Amount = Amount(microUnits: 1_000_000),
        encryptTo: Curve25519.KeyAgreement.PublicKey? = nil
    ) {
        self.baseURL = baseURL
        self.wallet = wallet
        self.maxPerJob = maxPerJob
        self.encryptTo = encryptTo
    }

    /// The node's advertised HPKE key, from `/v1/models`.
    public static func encryptionKey(of baseURL: URL) async throws -> Curve25519.KeyAgreement.PublicKey {
        struct Models: Decodable {
            struct Entry: Decodable {
                struct Agora: Decodable {
                    struct HPKE: Decodable { var publicKey: String }
                    var hpke: HPKE
                }
                var agora: Agora
            }
            var data: [Entry]
        }
        let (data, _) = try await URLSession.shared.data(from: baseURL.appendingPathComponent("v1/models"))
        let models = try JSONDecoder().decode(Models.self, from: data)
        guard let encoded = models.data.first?.agora.hpke.publicKey, let raw = Data(base64Encoded: encoded) else {
            throw NodeClientError.malformedResponse("the node advertises no HPKE key")
        }
        return try Curve25519.KeyAgreement.PublicKey(rawRepresentation: raw)
    }

    public func chat(_ request: ChatCompletionRequest) async throws -> ClientCompletion {
        var request = request
        request.stream = false
        let body = try JSONEncoder().encode(request)
        let first: (status: Int, headers: [String: String], data: Data) = try await post(
            "v1/chat/completions", body: body, payment: nil)
        switch first.status {
        case 200:
            return try parse(first.data, headers: first.headers, voucher: nil, terms: nil)
        case 402:
            let offer = try requirements(first.headers)
            let voucher = try voucher(for: request, offer: offer)
            let payload = X402.PaymentPayload(
                x402Version: X402.version, payload: .init(voucher: voucher), accepted: offer, resource: nil)
            let (paidStatus, paidHeaders, paidData) = try await post(
                "v1/chat/completions", body: body, payment: try X402.encodeHeader(payload))
            guard paidStatus == 200 else {
                throw NodeClientError.http(status: paidStatus, body: String(decoding: paidData, as: UTF8.self))
            }
            return try parse(paidData, headers: paidHeaders, voucher: voucher, terms: offer)
        default:
            throw NodeClientError.http(status: first.status, body: String(decoding: first.data, as: UTF8.self))
        }
    }

    private func requirements(_ headers: [String: String]) throws -> X402.PaymentRequirements {
        guard let header = headers[X402.paymentRequiredHeader.lowercased()] else {
            throw NodeClientError.malformedResponse("402 without a PAYMENT-REQUIRED header")
        }
        let required = try X402.decodeHeader(X402.PaymentRequired.self, from: header)
        guard let offer = required.accepts.first(where: { $0.scheme == X402.scheme && $0.network.hasPrefix("agora:") })
        else { throw NodeClientError.unexpectedTerms("no 'upto' offer on an agora network") }
        return offer
    }

    /// Checks the node's terms against our own request and budget, then signs a voucher.
    func voucher(for request: ChatCompletionRequest, offer: X402.PaymentRequirements) throws -> Voucher {
        let terms = offer.extra
        guard let asked = UInt64(offer.amount).map(Amount.init(microUnits:)) else {
            throw NodeClientError.unexpectedTerms("amount is not an integer")
        }
        guard asked <= maxPerJob else { throw NodeClientError.overBudget(asked: asked, budget: maxPerJob) }
        let prices = NodePrices(perInputToken: terms.pricePerInputToken, perOutputToken: terms.pricePerOutputToken)
        guard prices.cost(inputTokens: terms.promptTokens, outputTokens: terms.maxOutputTokens) == asked else {
            throw NodeClientError.unexpectedTerms("the amount is not what the prices and token counts give")
        }
        guard offer.network == X402.network(chainID: terms.chainId), let payee = try? Address(parsing: offer.payTo)
        else {
            throw NodeClientError.unexpectedTerms("network or payee")
        }
        // The terms cap all choices together: a request without max_tokens got maxOutputTokens / n each.
        let choices = max(1, request.n ?? 1)
        let limits = RequestLimits(
            maxTokens: Int.max, defaultMaxTokens: terms.maxOutputTokens / choices, maxChoices: Int.max)
        let job = try limits.job(from: request, chosenSeed: terms.seed)
        guard job.inputHash(modelHash: terms.modelHash) == terms.inputHash else {
            throw NodeClientError.unexpectedTerms("the input hash is not the hash of our request")
        }
        guard terms.seed == JobRequest.seed(forJob: terms.jobId) || request.seed != nil else {
            throw NodeClientError.unexpectedTerms("the seed is not derived from the job id")
        }
        return Voucher(
            chainID: terms.chainId, payer: wallet.publicKey, payee: payee.publicKey, jobID: terms.jobId,
            modelHash: terms.modelHash, inputHash: terms.inputHash, maxAmount: asked, expiry: terms.expiry
        ).signed(by: wallet)
    }

    private struct ChatBody: Decodable {
        struct Choice: Decodable {
            struct Message: Decodable { var content: String }
            var message: Message
            var finish_reason: String?
        }
        var choices: [Choice]
        var agora_receipt: JobReceipt
    }

    private func parse(
        _ data: Data, headers: [String: String], voucher: Voucher?, terms: X402.PaymentRequirements?
    ) throws
        -> ClientCompletion
    {
        let body: ChatBody
        do { body = try JSONDecoder().decode(ChatBody.self, from: data) } catch {
            throw NodeClientError.malformedResponse("\(error)")
        }
        guard let choice = body.choices.first else { throw NodeClientError.malformedResponse("no choices") }
        let receipt = body.agora_receipt
        do {
            if let voucher, let terms {
                try ReceiptVerifier.verify(
                    receipt, voucher: voucher, terms: terms.extra, output: choice.message.content)
            } else {
                try ReceiptVerifier.verify(receipt)
                guard receipt.outputHash == ReceiptVerifier.outputHash(choice.message.content) else {
                    throw ReceiptVerifier.Failure.outputMismatch
                }
            }
        } catch let failure as ReceiptVerifier.Failure {
            throw NodeClientError.badReceipt(failure)
        }
        let settlement = try headers[X402.paymentResponseHeader.lowercased()].map {
            try X402.decodeHeader(X402.SettlementResponse.self, from: $0)
        }
        return ClientCompletion(
            text: choice.message.content, finishReason: choice.finish_reason, receipt: receipt, voucher: voucher,
            terms: terms, settlement: settlement)
    }

    private func post(_ path: String, body: Data, payment: String?) async throws -> (Int, [String: String], Data) {
        var request = URLRequest(url: baseURL.appendingPathComponent(path))
        request.httpMethod = "POST"
        var responseKey: SymmetricKey?
        if let encryptTo {
            let sealed = try BodyEncryption.sealRequest(body, to: encryptTo)
            request.httpBody = sealed.ciphertext
            request.setValue(sealed.encapsulatedKey, forHTTPHeaderField: BodyEncryption.encapsulatedKeyHeader)
            responseKey = sealed.responseKey
        } else {
            request.httpBody = body
        }
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let payment { request.setValue(payment, forHTTPHeaderField: X402.paymentSignatureHeader) }
        request.timeoutInterval = 600
        let (data, response) = try await URLSession.shared.data(for: request)
        guard let http = response as? HTTPURLResponse else { throw NodeClientError.malformedResponse("not HTTP") }
        var headers: [String: String] = [:]
        for (name, value) in http.allHeaderFields {
            if let name = name as? String, let value = value as? String { headers[name.lowercased()] = value }
        }
        if let responseKey, headers["agora-hpke"] == "sealed" {
            return (http.statusCode, headers, try BodyEncryption.openResponse(data, key: responseKey))
        }
        return (http.statusCode, headers, data)
    }
}
