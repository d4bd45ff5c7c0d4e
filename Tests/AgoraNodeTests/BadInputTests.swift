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

    /// Every refusal of docs/protocol.md §11.2 answers 402 with fresh terms (a new job id), the documented
    /// code in `extensions.agora.code`, the field at fault and a message in words; none is accepted, nothing is
    /// reserved, and the node keeps serving.
    @Test func badPaymentsAreRefusedWithTheirDocumentedCodes() async throws {
        let harness = try NodeHarness(deposit: 100_000)
        try await harness.start()
        let request = ChatCompletionRequest(
            messages: [OpenAIMessage(role: "user", content: "Name a color.")], maxTokens: 8, temperature: 0)
        let body = try JSONEncoder().encode(request)
        let offer = try await harness.terms(for: body)
        #expect(offer.scheme == "upto" && offer.network == "agora:agora-node-test" && offer.asset == "AGR")
        let good = harness.voucher(paying: offer)

        func expectRefusal(
            _ header: String, code: String, field: String? = nil, mentions: String,
            sourceLocation: SourceLocation = #_sourceLocation
        ) async throws {
            let (status, headers, data) = try await harness.post(
                "v1/chat/completions", body: body, headers: [X402.paymentSignatureHeader: header])
            #expect(status == 402, sourceLocation: sourceLocation)
            let fresh = try X402.decodeHeader(
                X402.PaymentRequired.self, from: try #require(headers["payment-required"]))
            // The body carries the same terms as the header.
            #expect(try JSONDecoder().decode(X402.PaymentRequired.self, from: data) == fresh)
            let refusal = try #require(fresh.extensions?.agora, sourceLocation: sourceLocation)
            #expect(refusal.code == code, "\(refusal.message)", sourceLocation: sourceLocation)
            #expect(refusal.field == field, sourceLocation: sourceLocation)
            #expect(refusal.message.contains(mentions), "\(refusal.message)", sourceLocation: sourceLocation)
            #expect(fresh.error == refusal.message, sourceLocation: sourceLocation)
            #expect(!refusal.message.contains("DecodingError") && !refusal.message.contains("Context"))
            let terms = try #require(fresh.accepts.first, sourceLocation: sourceLocation)
            #expect(terms.extra.jobId != offer.extra.jobId, sourceLocation: sourceLocation)
            #expect(harness.service.gate?.issuedExpiry(of: terms.extra.jobId) != nil, sourceLocation: sourceLocation)
        }
        func header(_ voucher: Voucher, accepted: X402.PaymentRequirements? = nil) throws -> String {
            try X402.encodeHeader(
                X402.PaymentPayload(x402Version: 2, payload: .init(voucher: voucher), accepted: accepted ?? offer))
        }
        func resigned(_ edit: (inout Voucher) -> Void) -> Voucher {
            var voucher = good
            edit(&voucher)
            return voucher.signed(by: harness.agent)
        }

        // Headers that do not decode.
        try await expectRefusal("%%%not-base64", code: "invalid_payment", mentions: "not base64")
        try await expectRefusal(
            Data(#"{"x402Version":2,"payload":{"voucher":{}}}"#.utf8).base64EncodedString(), code: "invalid_payment",
            mentions: "missing field '")
        let version = X402.PaymentPayload(x402Version: 1, payload: .init(voucher: good), accepted: offer)
        try await expectRefusal(try X402.encodeHeader(version), code: "invalid_payment", mentions: "x402Version")
        // A job id this node never issued: made up, or an issued one with a byte changed.
        var madeUp = offer
        madeUp.extra.jobId = Hash256.random()
        try await expectRefusal(
            try header(resigned { $0.jobID = madeUp.extra.jobId }, accepted: madeUp), code: "unknown_job",
            field: "payload.voucher.jobId", mentions: "not issued by this node")
        var flipped = offer.extra.jobId.bytes
        flipped[31] ^= 1
        try await expectRefusal(
            try header(resigned { $0.jobID = Hash256(bytes: flipped)! }), code: "unknown_job",
            field: "payload.voucher.jobId", mentions: "not issued")
        // Terms issued long ago have expired.
        let old = UInt64(Date().timeIntervalSince1970) - 3_600
        let stale = try #require(harness.service.gate?.issueJobID(now: old))
        try await expectRefusal(
            try header(resigned { $0.jobID = stale }), code: "payment_expired", mentions: "expired")
        // `accepted` edited: each field is named.
        for (path, edit) in [
            ("accepted.amount", { (terms: inout X402.PaymentRequirements) in terms.amount = "1" }),
            ("accepted.payTo", { $0.payTo = SigningKey().address.description }),
            ("accepted.maxTimeoutSeconds", { $0.maxTimeoutSeconds = 86_400 }),
            ("accepted.extra.pricePerOutputToken", { $0.extra.pricePerOutputToken = Amount(microUnits: 0) }),
            ("accepted.extra.expiry", { $0.extra.expiry += 1 }),
        ] as [(String, (inout X402.PaymentRequirements) -> Void)] {
            var edited = offer
            edit(&edited)
            try await expectRefusal(
                try header(good, accepted: edited), code: "accepted_mismatch", field: path,
                mentions: "terms this node issued")
        }
        // The voucher disagrees with the terms.
        try await expectRefusal(
            try header(resigned { $0.inputHash = Hash256.of([1]) }), code: "payment_terms_mismatch",
            field: "payload.voucher.inputHash", mentions: "inputHash")
        try await expectRefusal(
            try header(resigned { $0.modelHash = Hash256.of([2]) }), code: "payment_terms_mismatch",
            field: "payload.voucher.modelHash", mentions: "modelHash")
        try await expectRefusal(
            try header(resigned { $0.payee = SigningKey().publicKey }), code: "payment_terms_mismatch",
            field: "payload.voucher.payee", mentions: "payee")
        try await expectRefusal(
            try header(resigned { $0.maxAmount = Amount(microUnits: 1_000_000) }), code: "payment_terms_mismatch",
            field: "payload.voucher.maxAmount", mentions: "maxAmount")
        try await expectRefusal(
            try header(resigned { $0.maxAmount = Amount(microUnits: 1) }), code: "voucher_below_cost",
            field: "payload.voucher.maxAmount", mentions: "maximum cost")
        try await expectRefusal(
            try header(resigned { $0.expiry = 1 }), code: "payment_expired", mentions: "expired")
        try await expectRefusal(
            try header(resigned { $0.expiry = UInt64(Date().timeIntervalSince1970) + 365 * 86_400 }),
            code: "payment_expiry_too_far", field: "payload.voucher.expiry", mentions: "later than the terms")
        // Forged: signed by someone else, or fields changed after signing.
        try await expectRefusal(
            try header(good.signed(by: SigningKey()).withPayer(harness.agent.publicKey)), code: "invalid_signature",
            field: "payload.voucher.signature", mentions: "signature")
        // A payer without a deposit.
        let broke = SigningKey()
        var unfunded = good
        unfunded.payer = broke.publicKey
        try await expectRefusal(
            try header(unfunded.signed(by: broke)), code: "insufficient_deposit", mentions: "deposit")
        #expect(try await harness.metric("agora_payments_accepted_total") == 0)

        // The terms as issued are paid; paying the same job again is refused.
        let (paid, _, _) = try await harness.pay(body, voucher: good, accepted: offer)
        #expect(paid == 200)
        try await expectRefusal(try header(good), code: "job_already_paid", mentions: "already paid")
        #expect(try await harness.metric("agora_payments_accepted_total") == 1)
        await harness.stop()
    }

    /// Never a parameter silently ignored: each unsupported one is refused by name, before any payment; the
    /// neutral values and nulls pass.
    @Test func unsupportedParametersAreRefusedByName() async throws {
        let harness = try NodeHarness()
        try await harness.start()
        let refusals: [(String, String, String)] = [
            (
                "v1/chat/completions", #""prediction": {}, "messages": [{"role": "user", "content": "Hi"}]"#,
                "prediction"
            ),
            ("v1/completions", #""prompt": "Hi", "best_of": 2"#, "best_of"),
            (
                "v1/chat/completions", #""modalities": ["audio"], "messages": [{"role": "user", "content": "Hi"}]"#,
                "modalities"
            ),
            ("v1/chat/completions", #""frobnicate": 1, "messages": [{"role": "user", "content": "Hi"}]"#, "frobnicate"),
            (
                "v1/chat/completions", #""messages": [{"role": "user", "content": "Hi", "name": "bob"}]"#,
                "messages.0.name"
            ),
            (
                "v1/chat/completions",
                #""stream_options": {"chunk": 1}, "messages": [{"role": "user", "content": "Hi"}]"#,
                "stream_options.chunk"
            ),
            ("v1/completions", #""prompt": "Hi", "echo": true"#, "echo"),
            (
                "v1/chat/completions",
                #""messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "input_audio", "input_audio": {}}]}]"#,
                "messages.0.content.1.type"
            ),
            ("v1/completions", #""prompt": "Hi", "suffix": "!""#, "suffix"),
        ]
        for (path, fields, param) in refusals {
            let (status, _, data) = try await harness.post(path, body: Data("{\(fields), \"max_tokens\": 4}".utf8))
            #expect(status == 400, "\(param)")
            let error = try JSONDecoder().decode(OpenAIErrorBody.self, from: data).error
            #expect(error.code == "unsupported_parameter" && error.param == param, "\(param): \(error)")
            #expect(error.message.contains("'\(param)'") || param.hasPrefix("messages"), "\(error.message)")
        }
        // Neutral values and nulls are no request for anything: the paid node answers with its terms.
        let neutral = Data(
            #"{"messages": [{"role": "user", "content": "Hi", "name": null}], "n": 1, "presence_penalty": 0, "frequency_penalty": 0.0, "logprobs": false, "tools": null, "user": "u-1", "stream_options": {"include_usage": true}, "max_tokens": 4}"#
                .utf8)
        #expect(try await harness.post("v1/chat/completions", body: neutral).0 == 402)
        // At their neutral values the sampling controls are the plain job: the same input hash.
        let plainTerms = try await harness.terms(
            for: Data(#"{"messages": [{"role": "user", "content": "Hi"}], "seed": 5, "max_tokens": 4}"#.utf8))
        let neutralTerms = try await harness.terms(
            for: Data(
                #"{"messages": [{"role": "user", "content": "Hi"}], "seed": 5, "max_tokens": 4, "n": 1, "presence_penalty": 0, "frequency_penalty": -0.0, "min_p": 0, "repetition_penalty": 1, "logit_bias": {"5": 0}, "logprobs": false}"#
                    .utf8))
        #expect(plainTerms.extra.inputHash == neutralTerms.extra.inputHash)
        // Text parts are the message with their texts joined by "\n": the same job, the same input hash.
        let parts = try await harness.terms(
            for: Data(
                #"{"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}, {"type": "text", "text": "there"}]}], "seed": 5, "max_tokens": 4}"#
                    .utf8))
        let joined = try await harness.terms(
            for: Data(#"{"messages": [{"role": "user", "content": "Hi\nthere"}], "seed": 5, "max_tokens": 4}"#.utf8))
        #expect(parts.extra.inputHash == joined.extra.inputHash)
        await harness.stop()
    }

    /// Out-of-range sampling controls are refused by name before any payment, with the rule in the message.
    @Test func badSamplingControlsAreRefusedByName() async throws {
        let harness = try NodeHarness()
        try await harness.start()
        let cases: [(String, String, String)] = [
            ("v1/chat/completions", #""n": 0"#, "n"),
            ("v1/chat/completions", #""n": 9"#, "n"),
            ("v1/chat/completions", #""top_logprobs": 2"#, "top_logprobs"),
            ("v1/chat/completions", #""logprobs": true, "top_logprobs": 21"#, "top_logprobs"),
            ("v1/chat/completions", #""logprobs": 1"#, "logprobs"),
            ("v1/completions", #""logprobs": 21"#, "logprobs"),
            ("v1/chat/completions", #""presence_penalty": 2.5"#, "presence_penalty"),
            ("v1/chat/completions", #""frequency_penalty": -3"#, "frequency_penalty"),
            ("v1/chat/completions", #""min_p": 1.5"#, "min_p"),
            ("v1/chat/completions", #""repetition_penalty": 0"#, "repetition_penalty"),
            ("v1/chat/completions", #""logit_bias": {"abc": 1}"#, "logit_bias"),
            ("v1/chat/completions", #""logit_bias": {"007": 1}"#, "logit_bias"),
            ("v1/chat/completions", #""logit_bias": {"1": 101}"#, "logit_bias.1"),
            ("v1/chat/completions", #""logit_bias": {"49152": 1}"#, "logit_bias.49152"),
            ("v1/chat/completions", #""logit_bias": [1, 2]"#, "logit_bias"),
            ("v1/chat/completions", #""tools": []"#, "tools"),
            ("v1/chat/completions", #""parallel_tool_calls": true"#, "parallel_tool_calls"),
            ("v1/chat/completions", #""tool_choice": "required""#, "tool_choice"),
            (
                "v1/chat/completions", #""tools": [{"type": "function", "function": {"name": "a b"}}]"#,
                "tools.0.function.name"
            ),
            (
                "v1/chat/completions",
                #""tools": [{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {"name": "f"}}]"#,
                "tools.1.function.name"
            ),
            (
                "v1/chat/completions",
                #""tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": {"type": "function", "function": {"name": "g"}}"#,
                "tool_choice"
            ),
            (
                "v1/chat/completions",
                #""tools": [{"type": "function", "function": {"name": "f"}}], "response_format": {"type": "json_object"}"#,
                "response_format"
            ),
        ]
        for (path, fields, param) in cases {
            let input =
                path.hasSuffix("chat/completions")
                ? #""messages": [{"role": "user", "content": "Hi"}]"# : #""prompt": "Hi""#
            let (status, _, data) = try await harness.post(
                path, body: Data("{\(input), \(fields), \"max_tokens\": 4}".utf8))
            #expect(status == 400, "\(fields)")
            let error = try JSONDecoder().decode(OpenAIErrorBody.self, from: data).error
            #expect(error.code == "invalid_request" && error.param == param, "\(fields): \(error)")
        }
        // response_format: malformed, unknown types and keys, and schemas with keywords the node cannot enforce.
        let formats: [(String, String, String)] = [
            (#"{"type": "xml"}"#, "response_format.type", "unsupported_parameter"),
            (#""json""#, "response_format", "invalid_request"),
            (#"{"type": "json_object", "schema": {}}"#, "response_format.schema", "unsupported_parameter"),
            (#"{"type": "json_schema"}"#, "response_format.json_schema", "invalid_request"),
            (
                #"{"type": "json_schema", "json_schema": {"name": "a b", "schema": {}}}"#,
                "response_format.json_schema.name",
                "invalid_request"
            ),
            (
                #"{"type": "json_schema", "json_schema": {"name": "a", "schema": {}, "description": "x"}}"#,
                "response_format.json_schema.description", "unsupported_parameter"
            ),
            (
                #"{"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "string", "pattern": "x"}}}"#,
                "response_format.json_schema.schema.pattern", "unsupported_parameter"
            ),
            (
                #"{"type": "json_schema", "json_schema": {"name": "a", "schema": {"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}}}}"#,
                "response_format.json_schema.schema.properties.n.maximum", "unsupported_parameter"
            ),
        ]
        // Tools whose parameters use a keyword the node cannot enforce, or a key it does not know.
        let toolCases: [(String, String)] = [
            (
                #"[{"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {"n": {"type": "string", "format": "date"}}}}}]"#,
                "tools.0.function.parameters.properties.n.format"
            ),
            (#"[{"type": "function", "function": {"name": "f", "examples": []}}]"#, "tools.0.function.examples"),
        ]
        for (tools, param) in toolCases {
            let body = #"{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "tools": \#(tools)}"#
            let (status, _, data) = try await harness.post("v1/chat/completions", body: Data(body.utf8))
            #expect(status == 400, "\(tools)")
            let error = try JSONDecoder().decode(OpenAIErrorBody.self, from: data).error
            #expect(error.code == "unsupported_parameter" && error.param == param, "\(tools): \(error)")
        }
        // Tool messages: a result needs its call's id, and only assistants call.
        for (messages, param) in [
            (#"[{"role": "tool", "content": "21"}]"#, "messages.0.tool_call_id"),
            (
                #"[{"role": "user", "content": "x", "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}]"#,
                "messages.0.tool_calls"
            ),
        ] {
            let body = #"{"messages": \#(messages), "max_tokens": 4}"#
            let (status, _, data) = try await harness.post("v1/chat/completions", body: Data(body.utf8))
            #expect(status == 400, "\(messages)")
            let error = try JSONDecoder().decode(OpenAIErrorBody.self, from: data).error
            #expect(error.param == param, "\(messages): \(error)")
        }
        for (format, param, code) in formats {
            let body =
                #"{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "response_format": \#(format)}"#
            let (status, _, data) = try await harness.post("v1/chat/completions", body: Data(body.utf8))
            #expect(status == 400, "\(format)")
            let error = try JSONDecoder().decode(OpenAIErrorBody.self, from: data).error
            #expect(error.code == code && error.param == param, "\(format): \(error)")
        }
        #expect(try await harness.metric("agora_payments_required_total") == 0)
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
