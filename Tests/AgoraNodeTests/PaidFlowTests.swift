import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import Crypto
import Foundation
import Testing

/// The paid flow end to end on loopback: 402 terms → signed voucher → answer with a signed receipt →
/// settlement on a real ledger, including a node restart between serving and settling.
@Suite(.serialized) struct PaidFlowTests {
    let question = ChatCompletionRequest(
        messages: [OpenAIMessage(role: "user", content: "What is the capital of France?")], maxTokens: 12,
        temperature: 0)

    @Test func paidJobIsServedVerifiedAndSettledAfterARestart() async throws {
        let harness = try NodeHarness()
        try await harness.start()
        let client = NodeClient(baseURL: harness.baseURL, wallet: harness.agent, maxPerJob: Amount(microUnits: 10_000))
        let result = try await client.chat(question)
        let local = try SharedEngine.engine.complete(
            try RequestLimits().job(from: question, chosenSeed: result.receipt.seed))
        #expect(!result.text.isEmpty && result.text == local.text)
        let voucher = try #require(result.voucher)
        #expect(result.receipt.payer == harness.agent.publicKey)
        #expect(result.receipt.node == harness.nodeKey.publicKey)
        // 1 µ per prompt token, 3 µ per generated token.
        #expect(
            result.receipt.amount.microUnits == UInt64(result.receipt.inputTokens) + 3
                * UInt64(result.receipt.outputTokens))
        #expect(result.settlement?.extensions?.agora.receipt == result.receipt)
        #expect(result.receipt.modelHash == SharedEngine.engine.modelHash)

        // The node stops before settling; its queue survives on disk.
        await harness.stop()
        let nodeBefore = try harness.ledger.account(harness.nodeKey.publicKey)
        let agentBefore = try harness.ledger.account(harness.agent.publicKey)
        #expect(try harness.ledger.job(voucher.jobID) == nil)

        try await harness.start()
        #expect(harness.service.settlements?.count == 1)
        let report = try await harness.service.flushSettlements(to: EmbeddedLedger(harness.ledger))
        #expect(report.settled == 1 && report.refused.isEmpty)
        #expect(try harness.ledger.job(voucher.jobID)?.amount == result.receipt.amount)
        #expect(
            try harness.ledger.account(harness.agent.publicKey).deposit.microUnits
                == agentBefore.deposit.microUnits - result.receipt.amount.microUnits)
        #expect(
            try harness.ledger.account(harness.nodeKey.publicKey).balance.microUnits
                == nodeBefore.balance.microUnits + result.receipt.amount.microUnits)
        #expect(harness.service.settlements?.count == 0)
        _ = try ChainVerifier(directory: harness.ledger.directory).verify()

        // The same voucher cannot buy a second job, before or after settlement.
        let replay = X402.PaymentPayload(
            x402Version: 2, payload: .init(voucher: voucher), accepted: try #require(result.terms), resource: nil)
        let (status, headers, _) = try await harness.post(
            "v1/chat/completions", body: try JSONEncoder().encode(question),
            headers: [X402.paymentSignatureHeader: try X402.encodeHeader(replay)])
        #expect(status == 402)
        let terms = try X402.decodeHeader(X402.PaymentRequired.self, from: try #require(headers["payment-required"]))
        #expect(terms.extensions?.agora?.code == "job_already_paid")
        // After another restart the node still refuses it: the queue remembers the jobs it finished until
        // their vouchers expire (so the node does not read the ledger for the job on every request).
        await harness.stop()
        try await harness.start()
        let (again, againHeaders, _) = try await harness.post(
            "v1/chat/completions", body: try JSONEncoder().encode(question),
            headers: [X402.paymentSignatureHeader: try X402.encodeHeader(replay)])
        #expect(again == 402)
        let againTerms = try X402.decodeHeader(
            X402.PaymentRequired.self, from: try #require(againHeaders["payment-required"]))
        #expect(againTerms.extensions?.agora?.code == "job_already_paid")
        await harness.stop()
    }

    @Test func paidAnswerMatchesTheEngineAndTheReceiptNamesIt() async throws {
        let harness = try NodeHarness()
        try await harness.start()
        let client = NodeClient(baseURL: harness.baseURL, wallet: harness.agent, maxPerJob: Amount(microUnits: 10_000))
        var request = question
        request.seed = 1234
        request.temperature = 0.8
        let result = try await client.chat(request)
        // Re-running the same canonical request locally gives the same bytes: what an auditor relies on.
        let job = try RequestLimits().job(from: request, chosenSeed: 0)
        let local = try SharedEngine.engine.complete(job)
        #expect(local.text == result.text)
        #expect(ReceiptVerifier.outputHash(local.text) == result.receipt.outputHash)
        #expect(job.inputHash(modelHash: SharedEngine.engine.modelHash) == result.receipt.inputHash)
        await harness.stop()
    }

    /// A counter from the node's `/metrics` text.
    static func counter(_ name: String, _ harness: NodeHarness) async throws -> Int {
        Int(try await harness.metric(name))
    }

    /// A streamed answer's headers leave before the job runs: `PAYMENT-RESPONSE` says the payment is
    /// accepted and reserved (no amount, no receipt); the receipt comes in the last event, for the job id the
    /// header named, and checks out against the voucher and the terms.
    @Test func aStreamedAnswerSaysThePaymentIsReservedAndEndsWithTheReceipt() async throws {
        let harness = try NodeHarness()
        try await harness.start()
        var request = ChatCompletionRequest(
            messages: [OpenAIMessage(role: "user", content: "Name a color.")], maxTokens: 6, temperature: 0)
        request.stream = true
        let body = try JSONEncoder().encode(request)
        let offer = try await harness.terms(for: body)
        let voucher = harness.voucher(paying: offer)
        let (status, headers, data) = try await harness.pay(body, voucher: voucher, accepted: offer)
        #expect(status == 200 && headers["content-type"] == "text/event-stream")
        let response = try X402.decodeHeader(
            X402.SettlementResponse.self, from: try #require(headers["payment-response"]))
        let agora = try #require(response.extensions?.agora)
        #expect(response.success && response.transaction.isEmpty && response.amount == nil)
        #expect(agora.status == .reserved && agora.jobId == offer.extra.jobId && agora.receipt == nil)
        struct Chunk: Decodable {
            struct Choice: Decodable {
                struct Delta: Decodable { var content: String? }
                var delta: Delta
            }
            var choices: [Choice]
            var agora_receipt: JobReceipt?
        }
        let events = String(decoding: data, as: UTF8.self).components(separatedBy: "\n\n")
            .filter { $0.hasPrefix("data: {") }
            .map { try? JSONDecoder().decode(Chunk.self, from: Data($0.dropFirst(6).utf8)) }
        let chunks = events.compactMap { $0 }
        #expect(chunks.count == events.count)
        let text = chunks.flatMap(\.choices).compactMap(\.delta.content).joined()
        let receipt = try #require(chunks.last?.agora_receipt)
        #expect(receipt.jobID == agora.jobId)
        try ReceiptVerifier.verify(receipt, voucher: voucher, terms: offer.extra, output: text)
        await harness.stop()
    }

    /// The client checks what the terms and the receipt say, beyond the signature.
    @Test func theClientRefusesInconsistentTermsAndReceipts() async throws {
        let key = SigningKey()
        let payer = SigningKey()
        let terms = X402.AgoraTerms(
            jobId: Hash256.random(), modelHash: Hash256.of([1]), inputHash: Hash256.of([2]), seed: 7, chainId: "c",
            pricePerInputToken: Amount(microUnits: 1), pricePerOutputToken: Amount(microUnits: 3), promptTokens: 10,
            maxOutputTokens: 5, expiry: 100)
        let voucher = Voucher(
            chainID: "c", payer: payer.publicKey, payee: key.publicKey, jobID: terms.jobId, modelHash: terms.modelHash,
            inputHash: terms.inputHash, maxAmount: Amount(microUnits: 25), expiry: 100
        ).signed(by: payer)
        let honest = JobReceipt(
            chainID: "c", jobID: terms.jobId, node: key.publicKey, payer: payer.publicKey, modelHash: terms.modelHash,
            inputHash: terms.inputHash, outputHash: ReceiptVerifier.outputHash("blue"), inputTokens: 10,
            outputTokens: 2, amount: Amount(microUnits: 16), seed: 7, engineVersion: "e", timestamp: 1)
        try ReceiptVerifier.verify(honest.signed(by: key), voucher: voucher, terms: terms, output: "blue")
        func refused(_ edit: (inout JobReceipt) -> Void) -> ReceiptVerifier.Failure? {
            var receipt = honest
            edit(&receipt)
            do {
                try ReceiptVerifier.verify(receipt.signed(by: key), voucher: voucher, terms: terms, output: "blue")
                return nil
            } catch { return error }
        }
        // Charged the cap (25) for 2 output tokens, which cost 16.
        #expect(
            refused { $0.amount = Amount(microUnits: 25) }
                == .overcharged(amount: Amount(microUnits: 25), cost: Amount(microUnits: 16)))
        #expect(refused { $0.seed = 8 } == .fieldMismatch(field: "seed"))
        #expect(refused { $0.payer = key.publicKey } == .fieldMismatch(field: "payer"))
        #expect(refused { $0.chainID = "d" } == .fieldMismatch(field: "chainId"))
        #expect(refused { $0.inputTokens = 9 } == .fieldMismatch(field: "inputTokens"))
        #expect(refused { $0.outputTokens = 6 } == .fieldMismatch(field: "outputTokens"))
    }

    @Test func aClientRefusesTermsAboveItsBudget() async throws {
        let harness = try NodeHarness()
        try await harness.start()
        let client = NodeClient(baseURL: harness.baseURL, wallet: harness.agent, maxPerJob: Amount(microUnits: 5))
        await #expect(throws: NodeClientError.self) { try await client.chat(question) }
        await harness.stop()
    }
}

/// Bodies sealed to the node's key: a relay sees neither the prompt nor the answer, and the paid flow works
/// the same.
@Suite(.serialized) struct EncryptionTests {
    @Test func sealedRequestAndAnswer() async throws {
        let harness = try NodeHarness()
        try await harness.start()
        let key = try await NodeClient.encryptionKey(of: harness.baseURL)
        #expect(key.rawRepresentation == harness.service.encryptionKey.publicKey.rawRepresentation)
        let client = NodeClient(
            baseURL: harness.baseURL, wallet: harness.agent, maxPerJob: Amount(microUnits: 10_000), encryptTo: key)
        let result = try await client.chat(
            ChatCompletionRequest(
                messages: [OpenAIMessage(role: "user", content: "What is the capital of France?")], maxTokens: 10,
                temperature: 0))
        #expect(!result.text.isEmpty && result.receipt.outputHash == ReceiptVerifier.outputHash(result.text))

        // What travels on the wire is not the JSON: a plain request body sealed to the node is unreadable to
        // anyone else, and a body sealed to another key is refused.
        let sealed = try BodyEncryption.sealRequest(
            Data(#"{"messages":[{"role":"user","content":"secret"}]}"#.utf8), to: key)
        #expect(!String(decoding: sealed.ciphertext, as: UTF8.self).contains("secret"))
        let other = try BodyEncryption.sealRequest(Data("{}".utf8), to: Curve25519.KeyAgreement.PrivateKey().publicKey)
        let (status, _, _) = try await harness.post(
            "v1/chat/completions", body: other.ciphertext,
            headers: [BodyEncryption.encapsulatedKeyHeader: other.encapsulatedKey])
        #expect(status == 400)
        await harness.stop()
    }

    /// A sealed Responses stream keeps each event's `event:` line readable (clients dispatch on it) and
    /// seals its data, which opens to the event's JSON with the same `type`.
    @Test func sealedResponsesStreamKeepsEventTypes() async throws {
        let harness = try NodeHarness()
        try await harness.start(free: true)
        let sealed = try BodyEncryption.sealRequest(
            Data(#"{"input": "Hi", "max_output_tokens": 4, "temperature": 0, "stream": true}"#.utf8),
            to: harness.service.encryptionKey.publicKey)
        let reply = await harness.service.complete(
            .responses, body: sealed.ciphertext, payment: nil, resource: "http://node/v1/responses",
            encapsulatedKey: sealed.encapsulatedKey)
        guard case .stream(let headers, let events) = reply else {
            Issue.record("not a stream: \(reply.status)")
            return
        }
        #expect(headers["Agora-HPKE"] == "sealed")
        var types: [String] = []
        for await event in events {
            let text = String(decoding: event, as: UTF8.self)
            if text.hasPrefix("data: [DONE]") { break }
            let lines = text.split(separator: "\n")
            #expect(lines.count == 2 && lines[0].hasPrefix("event: ") && lines[1].hasPrefix("data: "), "\(text)")
            let type = String(lines[0].dropFirst("event: ".count))
            let box = try #require(Data(base64Encoded: String(lines[1].dropFirst("data: ".count))))
            let json = try BodyEncryption.openResponse(box, key: sealed.responseKey)
            let object = try #require(JSONSerialization.jsonObject(with: json) as? [String: Any])
            #expect(object["type"] as? String == type)
            types.append(type)
        }
        #expect(types.first == "response.created")
        #expect(types.last == "response.completed" || types.last == "response.incomplete")
        #expect(types.contains("response.output_text.delta"))
        await harness.stop()
    }
}
