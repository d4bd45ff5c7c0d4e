import AgoraCore
import AgoraLedger
import AgoraWire
import Crypto
import Foundation
import Logging

/// An answer from the node, independent of the HTTP server that sends it.
public enum NodeReply: Sendable {
    case body(status: Int, headers: [String: String], body: Data)
    /// Server-Sent Events: each element is one complete `data: …\n\n` event.
    case stream(headers: [String: String], events: AsyncStream<Data>)

    public var status: Int {
        switch self {
        case .body(let status, _, _): return status
        case .stream: return 200
        }
    }
}

/// The OpenAI endpoints a node serves.
public enum CompletionEndpoint: Sendable {
    case chat
    case text
    /// `POST /v1/responses`: a chat job with the Responses API's request and answer shapes.
    case responses
    /// `POST /v1/embeddings`: an embeddings job for the node's embedding model.
    case embeddings
}

/// Everything a node does, behind the HTTP layer: parse and check a request, ask for payment, verify the
/// voucher, run the engine within the admission limits, sign the receipt, and queue the settlement.
///
/// Prompts and outputs pass through memory only: they are never logged or written to disk (the settlement
/// queue stores only the voucher and the receipt, which hold hashes).
public final class NodeService: Sendable {
    public struct Configuration: Sendable {
        public var free: Bool
        public var limits: RequestLimits
        public var maxBodyBytes: Int
        /// Jobs running at once (sharing the engine's forward passes).
        public var concurrency: Int
        /// Bytes of KV cache the running jobs may hold together (`--kv-budget`).
        public var memoryBudget: Int
        public var queueLimit: Int

        public init(
            free: Bool = false, limits: RequestLimits = RequestLimits(), maxBodyBytes: Int = 1 << 20,
            concurrency: Int = 16, memoryBudget: Int = 2 << 30, queueLimit: Int = 16
        ) {
            self.free = free
            self.limits = limits
            self.maxBodyBytes = maxBodyBytes
            self.concurrency = concurrency
            self.memoryBudget = memoryBudget
            self.queueLimit = queueLimit
        }
    }

    public let configuration: Configuration
    public let engine: any CompletionEngine
    /// The embedding model served at `/v1/embeddings` beside the chat model (`agora node --embeddings`); nil:
    /// that endpoint refuses every request by name.
    public let embeddingEngine: (any CompletionEngine)?
    /// The node's secret key: signs receipts and settlements; only its public half is exposed.
    let key: SigningKey
    public var nodeKey: PublicKey { key.publicKey }
    public let gate: PaymentGate?
    public let settlements: SettlementQueue?
    public let metrics = NodeMetrics()
    public let admission: AdmissionControl
    /// The X25519 key clients may seal request bodies to (advertised in `/v1/models`).
    public let encryptionKey: Curve25519.KeyAgreement.PrivateKey
    let chainID: String?
    let logger = Logger(label: "agora.node")

    /// - Parameters:
    ///   - gate: payment terms and voucher checks; nil serves for free.
    ///   - settlements: where accepted payments wait for the ledger (required when `gate` is set).
    public init(
        engine: any CompletionEngine, embeddings: (any CompletionEngine)? = nil, key: SigningKey,
        configuration: Configuration, gate: PaymentGate?, settlements: SettlementQueue?
    ) {
        self.engine = engine
        self.embeddingEngine = embeddings
        self.key = key
        self.configuration = configuration
        self.gate = configuration.free ? nil : gate
        self.settlements = settlements
        self.chainID = gate?.ledger.chainID
        self.admission = AdmissionControl(
            concurrency: configuration.concurrency, memoryBudget: configuration.memoryBudget,
            queueLimit: configuration.queueLimit)
        self.encryptionKey = BodyEncryption.nodeKey(for: key)
        if let settlements, let gate, let pending = try? settlements.pending() {
            for item in pending {
                gate.restore(job: item.voucher.jobID, payer: item.voucher.payer, amount: item.receipt.amount)
            }
            // The queue remembers the jobs it finished until their vouchers expire: the gate refuses replays
            // from that index instead of reading the ledger on every request.
            if let finished = try? settlements.finishedJobs(now: UInt64(Date().timeIntervalSince1970)) {
                gate.useLocalJobIndex(finished)
            }
        }
    }

    // MARK: Replies

    public func models() -> NodeReply {
        let info = CompletionResponses.AgoraModelInfo(
            modelHash: engine.modelHash, node: key.address.description, chainId: chainID,
            pricePerInputToken: gate?.prices.perInputToken ?? .zero,
            pricePerOutputToken: gate?.prices.perOutputToken ?? .zero,
            contextLength: engine.contextLength, engineVersion: engine.engineVersion, free: gate == nil,
            hpke: .init(
                suite: BodyEncryption.suiteName,
                publicKey: encryptionKey.publicKey.rawRepresentation.base64EncodedString()))
        var entries = [CompletionResponses.ModelEntry(id: engine.modelName, agora: info)]
        if let embeddings = embeddingEngine {
            var embeddingInfo = info
            embeddingInfo.modelHash = embeddings.modelHash
            embeddingInfo.contextLength = embeddings.contextLength
            embeddingInfo.pricePerOutputToken = .zero
            entries.append(CompletionResponses.ModelEntry(id: embeddings.modelName, agora: embeddingInfo))
        }
        let list = CompletionResponses.ModelList(data: entries)
        return .body(status: 200, headers: ["Content-Type": "application/json"], body: CompletionResponses.json(list))
    }

    public func health() async -> NodeReply {
        // Counting pending settlements reads SQLite: off the cooperative pool.
        let pending = (try? await offCooperativePool { [settlements] in settlements?.count ?? 0 }) ?? 0
        let body: [String: String] = [
            "status": "ok", "model": engine.modelName, "modelHash": engine.modelHash.hex,
            "node": key.address.description, "queueDepth": String(await admission.queueDepth),
            "pendingSettlements": String(pending),
        ]
        return .body(status: 200, headers: ["Content-Type": "application/json"], body: CompletionResponses.json(body))
    }

    public func metricsText() async -> NodeReply {
        metrics.queueDepth.set(Double(await admission.queueDepth))
        metrics.running.set(Double(await admission.runningCount))
        return .body(
            status: 200, headers: ["Content-Type": "text/plain; version=0.0.4"], body: Data(metrics.render().utf8))
    }

    // MARK: Completions

    /// Handles one completion request: `body` is the raw JSON (or, with `encapsulatedKey`, its HPKE-sealed
    /// form), `payment` the `PAYMENT-SIGNATURE` header.
    public func complete(
        _ endpoint: CompletionEndpoint, body: Data, payment: String?, resource: String, encapsulatedKey: String? = nil
    ) async -> NodeReply {
        metrics.requests.increment()
        guard body.count <= configuration.maxBodyBytes else {
            return refused(.bodyTooLarge(limit: configuration.maxBodyBytes))
        }
        guard let encapsulatedKey else {
            return await completePlain(endpoint, body: body, payment: payment, resource: resource)
        }
        let opened: (plaintext: Data, responseKey: SymmetricKey)
        do {
            opened = try BodyEncryption.openRequest(body, encapsulatedKey: encapsulatedKey, nodeKey: encryptionKey)
        } catch {
            return refused(.encryption(error.description))
        }
        let reply = await completePlain(endpoint, body: opened.plaintext, payment: payment, resource: resource)
        return Self.seal(reply, key: opened.responseKey)
    }

    /// Seals a successful answer for an encrypted request; errors stay readable (they hold no content).
    static func seal(_ reply: NodeReply, key: SymmetricKey) -> NodeReply {
        switch reply {
        case .body(let status, var headers, let body) where status == 200:
            headers["Content-Type"] = "application/octet-stream"
            headers["Agora-HPKE"] = "sealed"
            return .body(status: status, headers: headers, body: BodyEncryption.sealResponse(body, key: key))
        case .body:
            return reply
        case .stream(var headers, let events):
            headers["Agora-HPKE"] = "sealed"
            let sealed = AsyncStream<Data> { continuation in
                let task = Task {
                    for await event in events {
                        let text = String(decoding: event, as: UTF8.self)
                        // An event is an optional `event: <type>` line (the Responses stream) and its data line:
                        // the type stays readable, the data is sealed.
                        let header = text.hasPrefix("event: ") ? String(text.prefix { $0 != "\n" }) + "\n" : ""
                        let data = text.dropFirst(header.count)
                        if data.hasPrefix("data: [DONE]") {
                            continuation.yield(event)
                        } else {
                            let payload = Data(data.dropFirst("data: ".count).dropLast(2).utf8)
                            let box = BodyEncryption.sealResponse(payload, key: key).base64EncodedString()
                            continuation.yield(Data("\(header)data: \(box)\n\n".utf8))
                        }
                    }
                    continuation.finish()
                }
                continuation.onTermination = { _ in task.cancel() }
            }
            return .stream(headers: headers, events: sealed)
        }
    }

    /// The pipeline of one request: payment header → request checks → payment → admission → the run (whose
    /// receipt, settlement and rendering per endpoint follow in `buffered` / `streamed`). Each stage throws a
    /// `NodeError`, which `refused` counts and renders.
    private func completePlain(_ endpoint: CompletionEndpoint, body: Data, payment: String?, resource: String) async
        -> NodeReply
    {
        do throws(NodeError) {
            let now = UInt64(Date().timeIntervalSince1970)
            // A payment header that does not decode, or that pays a job id this node never issued, is
            // answered with fresh terms, like any refused payment.
            var (payload, refusal) = paymentPayload(payment)
            if let voucher = payload?.payload.voucher, gate?.issuedExpiry(of: voucher.jobID) == nil {
                (payload, refusal) = (nil, .unknownJob(voucher.jobID))
            }
            // The job id fixes the seed of a request that names none: the paid one's, or fresh terms' own.
            let jobID = payload?.payload.voucher.jobID ?? gate?.issueJobID(now: now) ?? Hash256.random()
            let engine = try self.engine(for: endpoint)
            let (job, stream, promptTokens) = try checkedRequest(endpoint, body: body, jobID: jobID, engine: engine)
            let voucher = try await pay(
                payload, refusal: refusal, endpoint: endpoint, body: body, job: job, jobID: jobID,
                promptTokens: promptTokens, resource: resource, now: now, engine: engine)
            let memory = reservation(job, promptTokens: promptTokens, engine: engine)
            try await admit(voucher, memory: memory)
            let context = JobContext(
                endpoint: endpoint, engine: engine, jobID: jobID, job: job, voucher: voucher,
                promptTokens: promptTokens, memory: memory, created: Int(now),
                responseID: Self.responseIDPrefix(endpoint) + jobID.short,
                embeddingEncoding: endpoint == .embeddings ? Self.embeddingEncoding(body) : .float
            )
            return stream ? streamed(context) : await buffered(context)
        } catch {
            return refused(error)
        }
    }

    static func responseIDPrefix(_ endpoint: CompletionEndpoint) -> String {
        switch endpoint {
        case .chat: "chatcmpl-"
        case .text: "cmpl-"
        case .responses: "resp_"
        case .embeddings: "emb-"
        }
    }

    /// The engine an endpoint is served by: the embedding model for `/v1/embeddings`, the chat model otherwise.
    private func engine(for endpoint: CompletionEndpoint) throws(NodeError) -> any CompletionEngine {
        guard endpoint == .embeddings else { return engine }
        guard let embeddingEngine else {
            throw .invalidRequest(
                RequestError(
                    "this node serves no embedding model (start it with agora node --embeddings)", param: "model",
                    code: "model_not_found"))
        }
        return embeddingEngine
    }

    /// `encoding_format` of an embeddings body (already checked by the parse; only embeddings requests read it).
    static func embeddingEncoding(_ body: Data) -> EmbeddingsAPI.Encoding {
        let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        return (object?["encoding_format"] as? String) == "base64" ? .base64 : .float
    }

    /// Counts a refusal by kind and renders it.
    private func refused(_ error: NodeError) -> NodeReply {
        switch error {
        case .bodyTooLarge, .encryption, .invalidRequest, .invalidPrompt, .contextLengthExceeded, .exceedsMemoryBudget:
            metrics.refusedInvalid.increment()
        case .paymentRequired(_, let reason):
            if reason == nil { metrics.paymentsRequired.increment() } else { metrics.paymentsRefused.increment() }
        case .ledgerUnavailable: metrics.paymentsRefused.increment()
        case .overloaded: metrics.refusedOverloaded.increment()
        case .inferenceFailed: break
        case .cancelled: metrics.cancelled.increment()
        }
        return error.reply
    }

    /// Stage 1: the `PAYMENT-SIGNATURE` header, when the node is paid: the payload, or why it does not decode.
    private func paymentPayload(_ header: String?) -> (X402.PaymentPayload?, PaymentError?) {
        guard let header, gate != nil else { return (nil, nil) }
        do { return (try X402.decodeHeader(X402.PaymentPayload.self, from: header), nil) } catch {
            return (nil, .malformed(error.message))
        }
    }

    /// Stage 2: the request, normalized, and its prompt length checked against the context.
    private func checkedRequest(
        _ endpoint: CompletionEndpoint, body: Data, jobID: Hash256, engine: any CompletionEngine
    ) throws(NodeError) -> (JobRequest, stream: Bool, promptTokens: Int) {
        let job: JobRequest
        let stream: Bool
        do { (job, stream) = try parse(endpoint, body: body, jobID: jobID) } catch { throw .invalidRequest(error) }
        do { try engine.check(job) } catch { throw .invalidRequest(error) }
        let promptTokens: Int
        do { promptTokens = try engine.promptTokenCount(job) } catch { throw .invalidPrompt("\(error)") }
        // An embeddings job's inputs are each checked against the context by the engine.
        guard job.isEmbeddings || promptTokens + job.maxTokens <= engine.contextLength else {
            throw .contextLengthExceeded(
                promptTokens: promptTokens, maxTokens: job.maxTokens, contextLength: engine.contextLength)
        }
        if let entry = job.logitBias.first(where: { Int($0.token) >= engine.vocabularySize }) {
            throw .invalidRequest(
                RequestError(
                    "logit_bias names token \(entry.token), beyond the vocabulary of \(engine.vocabularySize)",
                    param: "logit_bias.\(entry.token)"))
        }
        // A job larger than the whole memory budget could never run: refused before anyone pays for it.
        let memory = reservation(job, promptTokens: promptTokens, engine: engine)
        guard admission.fitsAtAll(memory) else {
            throw .exceedsMemoryBudget(bytes: memory, budget: admission.memoryBudget)
        }
        return (job, stream, promptTokens)
    }

    /// Bytes of KV cache a job holds while it runs: one cache per choice.
    private func reservation(_ job: JobRequest, promptTokens: Int, engine: any CompletionEngine) -> Int {
        engine.memoryReservation(promptTokens: promptTokens, maxTokens: job.maxTokens) * job.n
    }

    /// Stage 3: the voucher checked against the terms this node issued for its job and the ledger, its cap
    /// reserved (nil when free).
    private func pay(
        _ payload: X402.PaymentPayload?, refusal: PaymentError?, endpoint: CompletionEndpoint, body: Data,
        job: JobRequest, jobID: Hash256, promptTokens: Int, resource: String, now: UInt64, engine: any CompletionEngine
    ) async throws(NodeError) -> Voucher? {
        guard let gate else { return nil }
        guard let payload else {
            throw .paymentRequired(
                terms(
                    gate, jobID: jobID, job: job, promptTokens: promptTokens, resource: resource, refusal: refusal,
                    modelHash: engine.modelHash),
                reason: refusal)
        }
        do throws(PaymentError) {
            let issued = gate.requirements(
                jobID: jobID, request: job, modelHash: engine.modelHash, promptTokens: promptTokens)
            let voucher = try await gate.accept(payload, issued: issued, now: now)
            metrics.paymentsAccepted.increment()
            return voucher
        } catch {
            if case .ledgerUnavailable = error { throw .ledgerUnavailable(error) }
            // Fresh terms need a fresh job id, and a request without a seed takes its seed from the job id:
            // derive the job again so the terms' seed and input hash match the new id.
            let freshID = gate.issueJobID(now: now)
            let freshJob = (try? parse(endpoint, body: body, jobID: freshID).0) ?? job
            throw .paymentRequired(
                terms(
                    gate, jobID: freshID, job: freshJob, promptTokens: promptTokens, resource: resource,
                    refusal: error, modelHash: engine.modelHash),
                reason: error)
        }
    }

    /// Stage 4: a place in the bounded queue; a refused job's reservation is released.
    private func admit(_ voucher: Voucher?, memory: Int) async throws(NodeError) {
        do { try await admission.enter(bytes: memory) } catch {
            if let voucher { gate?.adjust(job: voucher.jobID, to: nil) }
            throw .overloaded
        }
    }

    struct JobContext: Sendable {
        var endpoint: CompletionEndpoint
        /// The model that runs the job (the embedding model for `/v1/embeddings`).
        var engine: any CompletionEngine
        var jobID: Hash256
        var job: JobRequest
        var voucher: Voucher?
        var promptTokens: Int
        /// Bytes of KV cache the job holds while it runs.
        var memory: Int
        var created: Int
        var responseID: String
        /// How an embeddings answer writes its vectors.
        var embeddingEncoding: EmbeddingsAPI.Encoding = .float
    }

    private func parse(_ endpoint: CompletionEndpoint, body: Data, jobID: Hash256) throws(RequestError) -> (
        JobRequest, Bool
    ) {
        let decoder = JSONDecoder()
        let seed = JobRequest.seed(forJob: jobID)
        // Never a parameter silently ignored: anything the node does not honour is refused by name first.
        if endpoint == .embeddings {
            let request = try EmbeddingsAPI.request(body, dimensions: embeddingEngine?.embeddingDimensions ?? 0)
            if let model = request.model, !model.isEmpty, let embeddings = embeddingEngine,
                model != embeddings.modelName, model != embeddings.modelHash.hex
            {
                throw RequestError(
                    "model '\(model)' is not served here (this node embeds with '\(embeddings.modelName)')",
                    param: "model", code: "model_not_found")
            }
            return (request.job, false)
        }
        if endpoint == .responses {
            // The Responses body is rewritten as the chat request it means: the same job.
            let (chat, stream) = try ResponsesAPI.chatBody(body)
            return (try parse(.chat, body: chat, jobID: jobID).0, stream)
        }
        try SupportedParameters.check(body, chat: endpoint == .chat)
        do {
            if endpoint == .chat {
                let request = try ChatCompletionRequest.decode(body)
                try checkModel(request.model)
                return (try configuration.limits.job(from: request, chosenSeed: seed), request.stream ?? false)
            } else {
                let request = try decoder.decode(TextCompletionRequest.self, from: body)
                try checkModel(request.model)
                return (try configuration.limits.job(from: request, chosenSeed: seed), request.stream ?? false)
            }
        } catch let error as RequestError {
            throw error
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw RequestError(
                "wrong type for '\(context.codingPath.map(\.stringValue).joined(separator: "."))'",
                param: context.codingPath.last?.stringValue)
        } catch let DecodingError.keyNotFound(key, _) {
            throw RequestError("missing required field '\(key.stringValue)'", param: key.stringValue)
        } catch {
            throw RequestError("the body is not valid JSON")
        }
    }

    private func checkModel(_ model: String?) throws(RequestError) {
        guard let model, !model.isEmpty else { return }
        guard model == engine.modelName || model == engine.modelHash.hex else {
            throw RequestError(
                "model '\(model)' is not served here (this node serves '\(engine.modelName)')", param: "model",
                code: "model_not_found")
        }
    }

    private func terms(
        _ gate: PaymentGate, jobID: Hash256, job: JobRequest, promptTokens: Int, resource: String,
        refusal: PaymentError?, modelHash: Hash256
    ) -> X402.PaymentRequired {
        gate.paymentRequired(
            jobID: jobID, request: job, modelHash: modelHash, promptTokens: promptTokens, resource: resource,
            refusal: refusal)
    }

    // MARK: Running a job

    /// Signs the receipt and, for a paid job, queues its settlement (durably, before the answer is sent).
    private func finish(_ context: JobContext, outcome: CompletionOutcome) throws -> (JobReceipt, String?) {
        let engine = context.engine
        metrics.completions.increment()
        metrics.promptTokens.increment(by: Int64(outcome.promptTokens))
        metrics.completionTokens.increment(by: Int64(outcome.completionTokens))
        var amount = Amount.zero
        if let gate, let voucher = context.voucher {
            let cost =
                gate.prices.cost(inputTokens: outcome.promptTokens, outputTokens: outcome.completionTokens)
                ?? voucher.maxAmount
            amount = Amount.min(cost, voucher.maxAmount)
        }
        let receipt = JobReceipt(
            chainID: chainID ?? "free", jobID: context.jobID, node: key.publicKey,
            payer: context.voucher?.payer ?? key.publicKey, modelHash: engine.modelHash,
            inputHash: context.job.inputHash(modelHash: engine.modelHash),
            outputHash: outcome.outputHash, inputTokens: UInt32(clamping: outcome.promptTokens),
            outputTokens: UInt32(clamping: outcome.completionTokens), amount: amount, seed: context.job.seed,
            engineVersion: engine.engineVersion, timestamp: UInt64(Date().timeIntervalSince1970 * 1000)
        ).signed(by: key)
        guard let voucher = context.voucher, let gate else { return (receipt, nil) }
        try settlements?.enqueue(PendingSettlement(voucher: voucher, receipt: receipt))
        gate.adjust(job: voucher.jobID, to: amount)
        metrics.microUnitsEarned.increment(by: Int64(clamping: amount.microUnits))
        let response = X402.SettlementResponse(
            success: true, payer: voucher.payer.address.description,
            network: X402.network(chainID: gate.ledger.chainID), amount: String(amount.microUnits),
            extensions: .init(
                agora: .init(status: .pending, jobId: voucher.jobID, receipt: receipt, ledger: gate.ledgerURL)))
        return (receipt, try X402.encodeHeader(response))
    }

    private func failed(_ context: JobContext, _ error: any Error) -> NodeReply {
        if let voucher = context.voucher { gate?.adjust(job: voucher.jobID, to: nil) }
        if error is CompletionCancelled { return refused(.cancelled) }
        logger.warning("job failed", metadata: ["job": "\(context.jobID.short)", "error": "\(type(of: error))"])
        return refused(.inferenceFailed("\(error)"))
    }

    private func buffered(_ context: JobContext) async -> NodeReply {
        let engine = context.engine
        let started = Date()
        // A cancelled request task (its connection closed) stops the engine at the next token.
        let stop = StopFlag()
        let result: Result<CompletionOutcome, any Error> = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                engine.start(
                    context.job, shouldStop: { stop.isSet }, onDelta: { _ in },
                    onFinish: { continuation.resume(returning: $0) })
            }
        } onCancel: {
            stop.set()
        }
        await admission.leave(bytes: context.memory)
        do {
            let outcome = try result.get()
            recordSpeed(outcome, since: started)
            // The settlement is written to SQLite before the answer leaves: off the cooperative pool.
            let (receipt, paymentResponse) = try await offCooperativePool { try self.finish(context, outcome: outcome) }
            var headers = ["Content-Type": "application/json"]
            if let paymentResponse { headers[X402.paymentResponseHeader] = paymentResponse }
            let usage = Usage(promptTokens: outcome.promptTokens, completionTokens: outcome.completionTokens)
            let body: Data
            switch context.endpoint {
            case .chat:
                let choices = outcome.choices.enumerated().map { index, choice in
                    let answer = CompletionResponses.chatAnswer(
                        choice, index: index, job: context.job, jobID: context.jobID, format: engine.toolFormat)
                    return CompletionResponses.ChatChoice(
                        index: index, message: answer.message, finishReason: answer.finishReason,
                        logprobs: choice.logprobs.map(CompletionResponses.ChatLogprobs.init))
                }
                body = CompletionResponses.json(
                    CompletionResponses.Chat(
                        id: context.responseID, created: context.created, model: engine.modelName, choices: choices,
                        usage: usage, agoraReceipt: receipt))
            case .responses:
                body = CompletionResponses.json(
                    ResponsesAPI.response(
                        outcome, job: context.job, jobID: context.jobID, created: context.created,
                        model: engine.modelName, receipt: receipt, format: engine.toolFormat))
            case .embeddings:
                body = CompletionResponses.json(
                    EmbeddingsAPI.answer(
                        outcome, encoding: context.embeddingEncoding, model: engine.modelName, receipt: receipt))
            case .text:
                let choices = outcome.choices.enumerated().map { index, choice in
                    CompletionResponses.TextChoice(
                        text: choice.text, index: index, finishReason: choice.finishReason,
                        logprobs: choice.logprobs.map { CompletionResponses.TextLogprobs($0, offset: 0) })
                }
                body = CompletionResponses.json(
                    CompletionResponses.Text(
                        id: context.responseID, created: context.created, model: engine.modelName, choices: choices,
                        usage: usage, agoraReceipt: receipt))
            }
            return .body(status: 200, headers: headers, body: body)
        } catch {
            return failed(context, error)
        }
    }

    private func recordSpeed(_ outcome: CompletionOutcome, since started: Date) {
        let seconds = Date().timeIntervalSince(started)
        if seconds > 0 { metrics.tokensPerSecond.set(Double(outcome.completionTokens) / seconds) }
    }

    private func streamed(_ context: JobContext) -> NodeReply {
        let (events, continuation) = AsyncStream.makeStream(of: Data.self, bufferingPolicy: .unbounded)
        let engine = self.engine
        // When the client goes away the HTTP layer stops reading the stream: stop the engine at the next
        // token, so the slot is free again within one decode step.
        let stop = StopFlag()
        continuation.onTermination = { termination in
            if case .cancelled = termination { stop.set() }
        }
        let format: any StreamFormat =
            context.endpoint == .responses
            ? ResponsesStreamFormat(context: context, modelName: engine.modelName, tools: engine.toolFormat)
            : ChatStreamFormat(context: context, modelName: engine.modelName, tools: engine.toolFormat)
        for event in format.opening() { continuation.yield(event) }
        let started = Date()
        engine.start(
            context.job, shouldStop: { stop.isSet },
            onDelta: { for event in format.delta($0) { continuation.yield(event) } }
        ) { result in
            // The slot is free as soon as the engine is; the receipt and the settlement's SQLite write go to a
            // GCD thread, off the cooperative pool and off the engine's batch thread.
            Task { await self.admission.leave(bytes: context.memory) }
            DispatchQueue.global(qos: .userInitiated).async {
                do {
                    let outcome = try result.get()
                    self.recordSpeed(outcome, since: started)
                    let (receipt, _) = try self.finish(context, outcome: outcome)
                    for event in format.closing(outcome, receipt: receipt) { continuation.yield(event) }
                } catch is CompletionCancelled {
                    // Not charged: the reservation is dropped and no receipt exists (see `CompletionCancelled`).
                    if let voucher = context.voucher { self.gate?.adjust(job: voucher.jobID, to: nil) }
                    self.metrics.cancelled.increment()
                } catch {
                    if let voucher = context.voucher { self.gate?.adjust(job: voucher.jobID, to: nil) }
                    continuation.yield(format.failure("inference failed: \(error)"))
                }
                continuation.yield(Data("data: [DONE]\n\n".utf8))
                continuation.finish()
            }
        }
        var headers = ["Content-Type": "text/event-stream", "Cache-Control": "no-cache"]
        // The headers leave before the job runs: they can only say the payment is accepted and reserved.
        if let voucher = context.voucher, let gate {
            let response = X402.SettlementResponse(
                success: true, payer: voucher.payer.address.description,
                network: X402.network(chainID: gate.ledger.chainID),
                extensions: .init(agora: .init(status: .reserved, jobId: voucher.jobID, ledger: gate.ledgerURL)))
            headers[X402.paymentResponseHeader] = try? X402.encodeHeader(response)
        }
        return .stream(headers: headers, events: events)
    }

    /// Submits pending settlements to the ledger.
    @discardableResult
    public func flushSettlements(to ledger: any LedgerAccess) async throws -> SettlementReport {
        guard let settlements else { return SettlementReport() }
        let report = try await settlements.flush(to: ledger, node: key)
        metrics.settlementsSettled.increment(by: Int64(report.settled))
        metrics.settlementsFailed.increment(by: Int64(report.refused.count))
        // Settled jobs now show on the payer's deposit; refused ones will never draw on it.
        gate?.recordFinished(report.finished, now: UInt64(Date().timeIntervalSince1970))
        for job in report.finished.keys { gate?.adjust(job: job, to: nil) }
        return report
    }
}
