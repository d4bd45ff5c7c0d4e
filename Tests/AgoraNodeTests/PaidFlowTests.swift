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
            try RequestLimits().job(from: question, chosenSeed: result.receipt.seed), onText: { _ in })
        #expect(!result.text.isEmpty && result.text == local.text)
        let voucher = try #require(result.voucher)
        #expect(result.receipt.payer == harness.agent.publicKey)
        #expect(result.receipt.node == harness.nodeKey.publicKey)
        // 1 µ per prompt token, 3 µ per generated token.
        #expect(
            result.receipt.amount.microUnits == UInt64(result.receipt.inputTokens) + 3
                * UInt64(result.receipt.outputTokens))
        #expect(result.settlement?.extensions?.receipt == result.receipt)
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
            x402Version: 2, payload: .init(voucher: voucher),
            accepted: X402.PaymentRequirements(
                scheme: "upto", network: "agora:agora-node-test", asset: "AGR",
                amount: String(voucher.maxAmount.microUnits),
                payTo: harness.nodeKey.address.description, maxTimeoutSeconds: 300,
                extra: X402.AgoraTerms(
                    jobId: voucher.jobID, modelHash: voucher.modelHash, inputHash: voucher.inputHash, seed: 0,
                    chainId: "agora-node-test", pricePerInputToken: .zero, pricePerOutputToken: .zero, promptTokens: 0,
                    maxOutputTokens: 12, expiry: voucher.expiry)),
            resource: nil)
        var body = question
        body.seed = JobRequest.seed(forJob: voucher.jobID)
        let (status, headers, _) = try await harness.post(
            "v1/chat/completions", body: try JSONEncoder().encode(question),
            headers: [X402.paymentSignatureHeader: try X402.encodeHeader(replay)])
        #expect(status == 402)
        let terms = try X402.decodeHeader(X402.PaymentRequired.self, from: try #require(headers["payment-required"]))
        #expect(terms.error?.contains("already paid") == true)
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
        #expect(againTerms.error?.contains("already paid") == true)
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
        let local = try SharedEngine.engine.complete(job, onText: { _ in })
        #expect(local.text == result.text)
        #expect(ReceiptVerifier.outputHash(local.text) == result.receipt.outputHash)
        #expect(job.inputHash(modelHash: SharedEngine.engine.modelHash) == result.receipt.inputHash)
        await harness.stop()
    }

    /// A counter from the node's `/metrics` text.
    static func counter(_ name: String, _ harness: NodeHarness) async throws -> Int {
        Int(try await harness.metric(name))
    }

    /// With remembered terms, every job after the first pays on its first request: no 402 round trip, the
    /// receipt still checks out against the voucher, and every job settles.
    @Test func rememberedTermsPayOnTheFirstRequest() async throws {
        let harness = try NodeHarness()
        try await harness.start()
        let client = NodeClient(
            baseURL: harness.baseURL, wallet: harness.agent, maxPerJob: Amount(microUnits: 20_000),
            termsCache: PaymentTermsCache())
        var jobs: [ClientCompletion] = []
        for prompt in ["What is the capital of France?", "Name a color.", "Say hello."] {
            jobs.append(
                try await client.chat(
                    ChatCompletionRequest(
                        messages: [OpenAIMessage(role: "user", content: prompt)], maxTokens: 6, temperature: 0)))
        }
        #expect(try await Self.counter("agora_payments_required_total", harness) == 1)
        #expect(try await Self.counter("agora_payments_accepted_total", harness) == 3)
        // The later vouchers carry the client's own job ids and its budget as the cap; receipts charge the cost.
        #expect(Set(jobs.map(\.receipt.jobID)).count == 3)
        #expect(jobs.dropFirst().allSatisfy { $0.voucher?.maxAmount == Amount(microUnits: 20_000) })
        #expect(jobs.allSatisfy { $0.receipt.amount < Amount(microUnits: 20_000) })
        let report = try await harness.service.flushSettlements(to: EmbeddedLedger(harness.ledger))
        #expect(report.settled == 3)
        for job in jobs { #expect(try harness.ledger.job(job.receipt.jobID) != nil) }
        await harness.stop()
    }

    /// A remembered-terms voucher the node refuses (here: capped above the payer's deposit) is answered with
    /// an ordinary 402, and the client completes the job through it.
    @Test func refusedRememberedTermsFallBackToA402() async throws {
        let harness = try NodeHarness(deposit: 100_000)
        try await harness.start()
        let client = NodeClient(
            baseURL: harness.baseURL, wallet: harness.agent, maxPerJob: Amount(microUnits: 1_000_000),
            termsCache: PaymentTermsCache())
        _ = try await client.chat(question)
        let second = try await client.chat(question)
        #expect(second.voucher.map { $0.maxAmount < Amount(microUnits: 100_000) } == true)
        // One 402 for the first job (no payment), one refusal answered with fresh terms, two accepted vouchers.
        #expect(try await Self.counter("agora_payments_required_total", harness) == 1)
        #expect(try await Self.counter("agora_payments_refused_total", harness) == 1)
        #expect(try await Self.counter("agora_payments_accepted_total", harness) == 2)
        #expect(try await harness.service.flushSettlements(to: EmbeddedLedger(harness.ledger)).settled == 2)
        await harness.stop()
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
}
