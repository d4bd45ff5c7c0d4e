import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation
import Testing

/// Each kind of bad request gets a clear OpenAI-style error with the right status, and the node keeps serving.
@Suite(.serialized) struct BadInputTests {
    struct ErrorBody: Decodable {
        struct Detail: Decodable {
            var message: String
            var type: String
            var code: String?
        }
        var error: Detail
    }

    func expectError(
        _ harness: NodeHarness, body: Data, headers: [String: String] = [:], status: Int, code: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let (got, _, data) = try await harness.post("v1/chat/completions", body: body, headers: headers)
        #expect(got == status, sourceLocation: sourceLocation)
        let decoded = try JSONDecoder().decode(ErrorBody.self, from: data)
        #expect(decoded.error.code == code, "\(decoded.error.message)", sourceLocation: sourceLocation)
        #expect(!decoded.error.message.isEmpty, sourceLocation: sourceLocation)
    }

    @Test func malformedRequestsAreRefusedClearly() async throws {
        let harness = try NodeHarness()
        try await harness.start(
            free: true, configuration: .init(limits: RequestLimits(maxTokens: 64), maxBodyBytes: 4_096))
        try await expectError(harness, body: Data("{not json".utf8), status: 400, code: "invalid_request")
        try await expectError(harness, body: Data(#"{"messages": "hello"}"#.utf8), status: 400, code: "invalid_request")
        try await expectError(harness, body: Data(#"{"model": "x"}"#.utf8), status: 400, code: "invalid_request")
        try await expectError(
            harness, body: Data(#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 100000}"#.utf8),
            status: 400, code: "invalid_request")
        try await expectError(
            harness, body: Data(#"{"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}"#.utf8),
            status: 400, code: "invalid_request")
        try await expectError(
            harness, body: Data(#"{"model": "gpt-9", "messages": [{"role": "user", "content": "hi"}]}"#.utf8),
            status: 404, code: "model_not_found")
        let huge =
            Data(#"{"messages": [{"role": "user", "content": ""#.utf8) + Data(repeating: 0x61, count: 10_000)
            + Data(#""}]}"#.utf8)
        try await expectError(harness, body: huge, status: 413, code: "body_too_large")
        // Still serving.
        let (status, _, _) = try await harness.post(
            "v1/chat/completions",
            body: Data(#"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}"#.utf8))
        #expect(status == 200)
        await harness.stop()
    }

    @Test func badVouchersAreRefused() async throws {
        let harness = try NodeHarness(deposit: 50)
        try await harness.start()
        let request = ChatCompletionRequest(
            messages: [OpenAIMessage(role: "user", content: "Name a color.")], maxTokens: 8, temperature: 0)
        let body = try JSONEncoder().encode(request)
        let (status, headers, _) = try await harness.post("v1/chat/completions", body: body)
        #expect(status == 402)
        let terms = try X402.decodeHeader(X402.PaymentRequired.self, from: try #require(headers["payment-required"]))
        let offer = try #require(terms.accepts.first)
        #expect(offer.scheme == "upto" && offer.network == "agora:agora-node-test" && offer.asset == "AGR")

        func pay(_ voucher: Voucher) async throws -> (Int, X402.PaymentRequired?) {
            let payload = X402.PaymentPayload(
                x402Version: 2, payload: .init(voucher: voucher), accepted: offer, resource: nil)
            let (status, headers, _) = try await harness.post(
                "v1/chat/completions", body: body,
                headers: [X402.paymentSignatureHeader: try X402.encodeHeader(payload)])
            return (
                status,
                try headers["payment-required"].map { try X402.decodeHeader(X402.PaymentRequired.self, from: $0) }
            )
        }
        let good = Voucher(
            chainID: offer.extra.chainId, payer: harness.agent.publicKey, payee: harness.nodeKey.publicKey,
            jobID: offer.extra.jobId, modelHash: offer.extra.modelHash, inputHash: offer.extra.inputHash,
            maxAmount: Amount(microUnits: UInt64(offer.amount)!), expiry: offer.extra.expiry)

        // Forged: signed by someone else.
        var (code, answer) = try await pay(good.signed(by: SigningKey()).withPayer(harness.agent.publicKey))
        #expect(code == 402 && answer?.error?.contains("signature") == true)
        // Expired.
        var expired = good
        expired.expiry = 1
        (code, answer) = try await pay(expired.signed(by: harness.agent))
        #expect(code == 402 && answer?.error?.contains("expired") == true)
        // Valid for a year, though the terms offered 300 s.
        var tooLong = good
        tooLong.expiry = UInt64(Date().timeIntervalSince1970) + 365 * 86_400
        (code, answer) = try await pay(tooLong.signed(by: harness.agent))
        #expect(code == 402 && answer?.error?.contains("later than the terms allow") == true)
        // For another input.
        var otherInput = good
        otherInput.inputHash = Hash256.of([1])
        (code, answer) = try await pay(otherInput.signed(by: harness.agent))
        #expect(code == 402 && answer?.error?.contains("input hash") == true)
        // Over the payer's deposit (50 µ deposited; the job may cost more).
        (code, answer) = try await pay(good.signed(by: harness.agent))
        #expect(code == 402 && answer?.error?.contains("deposit") == true)
        // Malformed header.
        // A malformed header still gets fresh terms, and a message in words (no decoder dump).
        let (malformed, malformedHeaders, _) = try await harness.post(
            "v1/chat/completions", body: body, headers: [X402.paymentSignatureHeader: "%%%not-base64"])
        #expect(malformed == 402)
        let fresh = try X402.decodeHeader(
            X402.PaymentRequired.self, from: try #require(malformedHeaders["payment-required"]))
        #expect(fresh.accepts.count == 1 && fresh.error == "malformed payment: payment header is not base64")
        let missingField = Data(#"{"x402Version":2,"payload":{"voucher":{}}}"#.utf8).base64EncodedString()
        let (incomplete, incompleteHeaders, _) = try await harness.post(
            "v1/chat/completions", body: body, headers: [X402.paymentSignatureHeader: missingField])
        #expect(incomplete == 402)
        let incompleteTerms = try X402.decodeHeader(
            X402.PaymentRequired.self, from: try #require(incompleteHeaders["payment-required"]))
        let reason = try #require(incompleteTerms.error)
        #expect(reason.hasPrefix("malformed payment: payment header: missing field '"), "\(reason)")
        #expect(!reason.contains("DecodingError") && !reason.contains("Context"), "\(reason)")
        let (health, _) = try await harness.get("health")
        #expect(health == 200)
        await harness.stop()
    }

    @Test func aFullQueueAnswers503WithRetryAfter() async throws {
        let harness = try NodeHarness()
        try await harness.start(free: true, configuration: .init(concurrency: 1, queueLimit: 0))
        let body = Data(
            #"{"messages": [{"role": "user", "content": "Write a long story about a dragon."}], "max_tokens": 200}"#
                .utf8)
        async let first = harness.post("v1/chat/completions", body: body)
        // Once the first job holds the only slot (as `/metrics` shows), a second has nowhere to wait.
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline, try await harness.metric("agora_running_jobs") != 1 {
            try await Task.sleep(for: .milliseconds(5))
        }
        let (status, headers, _) = try await harness.post("v1/chat/completions", body: body)
        #expect(status == 503)
        #expect(headers["retry-after"] == "1")
        #expect(try await first.0 == 200)
        await harness.stop()
    }
}

extension Voucher {
    /// A copy claiming another payer (keeping the signature): a forgery.
    fileprivate func withPayer(_ payer: PublicKey) -> Voucher {
        var copy = self
        copy.payer = payer
        return copy
    }
}
