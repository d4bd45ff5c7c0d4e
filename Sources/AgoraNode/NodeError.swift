import AgoraWire
import Foundation

/// Why the node refused or failed a request. Each case carries its HTTP status, its OpenAI error type and
/// code, and its headers, so every stage of `NodeService`'s pipeline throws one of these and one place turns
/// it into the answer.
public enum NodeError: Error, Sendable {
    case bodyTooLarge(limit: Int)
    case encryption(String)
    /// The body is not a valid request (400), or names a model this node does not serve (404).
    case invalidRequest(RequestError)
    case invalidPrompt(String)
    case contextLengthExceeded(promptTokens: Int, maxTokens: Int, contextLength: Int)
    /// No payment, or one refused for its terms: 402 with fresh terms (`reason` says why, if refused).
    case paymentRequired(X402.PaymentRequired, reason: PaymentError?)
    /// The ledger could not be asked about the voucher: retry (503).
    case ledgerUnavailable(PaymentError)
    case overloaded
    /// The job's KV cache (prompt + max tokens) is larger than the node's whole memory budget: it could
    /// never run here.
    case exceedsMemoryBudget(bytes: Int, budget: Int)
    case inferenceFailed(String)
    /// The client went away before the job finished; nothing was charged.
    case cancelled

    public var status: Int {
        switch self {
        case .bodyTooLarge: return 413
        case .encryption, .invalidPrompt, .contextLengthExceeded, .exceedsMemoryBudget: return 400
        case .invalidRequest(let error): return error.code == "model_not_found" ? 404 : 400
        case .paymentRequired: return 402
        case .ledgerUnavailable, .overloaded: return 503
        case .inferenceFailed: return 500
        case .cancelled: return 499
        }
    }

    public var type: String {
        switch self {
        case .bodyTooLarge, .encryption, .invalidRequest, .invalidPrompt, .contextLengthExceeded, .exceedsMemoryBudget:
            return "invalid_request_error"
        case .paymentRequired: return "payment_error"
        case .ledgerUnavailable, .overloaded, .inferenceFailed, .cancelled: return "server_error"
        }
    }

    public var code: String {
        switch self {
        case .bodyTooLarge: return "body_too_large"
        case .encryption: return "encryption_error"
        case .invalidRequest(let error): return error.code
        case .invalidPrompt: return "invalid_prompt"
        case .contextLengthExceeded: return "context_length_exceeded"
        case .paymentRequired(_, let reason): return reason?.code ?? "payment_required"
        case .ledgerUnavailable(let error): return error.code
        case .overloaded: return "overloaded"
        case .exceedsMemoryBudget: return "exceeds_memory_budget"
        case .inferenceFailed: return "inference_failed"
        case .cancelled: return "cancelled"
        }
    }

    public var message: String {
        switch self {
        case .bodyTooLarge(let limit): return "request body exceeds \(limit) bytes"
        case .encryption(let why): return why
        case .invalidRequest(let error): return error.message
        case .invalidPrompt(let why): return why
        case .contextLengthExceeded(let prompt, let maxTokens, let context):
            return "prompt (\(prompt) tokens) plus max_tokens (\(maxTokens)) exceeds the context of \(context)"
        case .paymentRequired(_, let reason): return reason?.description ?? "payment required"
        case .ledgerUnavailable(let error): return error.description
        case .overloaded: return "the node is busy; retry shortly"
        case .exceedsMemoryBudget(let bytes, let budget):
            return
                "the job needs \(bytes / (1 << 20)) MiB of KV cache (prompt + max_tokens), more than this node's whole budget of \(budget / (1 << 20)) MiB; lower max_tokens"
        case .inferenceFailed(let why): return "inference failed: \(why)"
        case .cancelled: return "the request was cancelled before the job finished; nothing was charged"
        }
    }

    var param: String? {
        switch self {
        case .invalidRequest(let error): return error.param
        case .contextLengthExceeded, .exceedsMemoryBudget: return "max_tokens"
        default: return nil
        }
    }

    /// The answer to send.
    var reply: NodeReply {
        if case .paymentRequired(let terms, _) = self {
            let header = (try? X402.encodeHeader(terms)) ?? ""
            return .body(
                status: 402, headers: ["Content-Type": "application/json", X402.paymentRequiredHeader: header],
                body: CompletionResponses.json(terms))
        }
        var headers = ["Content-Type": "application/json"]
        if status == 503 { headers["Retry-After"] = "1" }
        return .body(
            status: status, headers: headers,
            body: CompletionResponses.json(OpenAIErrorBody(message: message, type: type, code: code, param: param)))
    }
}
