import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation
import Testing

/// `n`, `logprobs` and the sampling controls through the official `openai` client (`openai_sampling_check.py`),
/// greedy and sampled, plain and streamed, on both endpoints. Every answer is then re-executed the referee's
/// way (`complete`, choices one after another) and must reproduce the receipt: the input hash from the body
/// as sent, the output hash from the re-run, and every text and log-probability as received.
@Suite(.serialized) struct OpenAISamplingTests {
    struct Case: Decodable {
        struct Choice: Decodable {
            var index: Int
            var finish: String?
            var text: String
            var logprobs: [Entry]?
            var legacy: Legacy?
        }

        struct Entry: Decodable {
            struct Alternative: Decodable {
                var bytes: [UInt8]
                var logprob: Double
            }
            var bytes: [UInt8]
            var logprob: Double
            var top: [Alternative]
        }

        struct Legacy: Decodable {
            var tokens: [String]
            var token_logprobs: [Double]
            var text_offset: [Int]
            var top: [[String: Double]]
        }

        var name: String
        var chat: Bool
        var stream: Bool
        /// The request body exactly as sent (member order matters to a schema's canonical text).
        var body: String
        var receipt: JobReceipt
        var usage: [Int]
        var choices: [Choice]
    }

    @Test func choicesLogprobsAndControlsReExecuteToTheReceipt() async throws {
        let engine = SharedEngine.engine
        let tokenizer = engine.engine.tokenizer
        let limits = RequestLimits()
        // The greedy answer's first token (to ban) and a token no answer starts with (to force).
        let question = [OpenAIMessage(role: "user", content: "What is the capital of France?")]
        var plain = try limits.job(
            from: ChatCompletionRequest(messages: question, maxTokens: 8, temperature: 0), chosenSeed: 0)
        plain.logprobs = 0
        let greedy = try engine.complete(plain)
        let banned = try #require(greedy.choices[0].logprobs?.first?.token)
        let boosted = try #require(tokenizer.encode(" banana", parseSpecial: false).first)

        let harness = try NodeHarness()
        try await harness.start(free: true)
        let (data, errorText, status) = try await Self.runScript(
            "openai_sampling_check.py", arguments: [harness.baseURL.absoluteString, "\(banned)", "\(boosted)"])
        await harness.stop()
        #expect(status == 0, "openai client failed: \(errorText)")
        let cases = try JSONDecoder().decode([Case].self, from: data)
        let bodies = cases.map { Data($0.body.utf8) }
        #expect(cases.count == 11)

        try Self.reExecute(cases, bodies: bodies)

        let byName = Dictionary(uniqueKeysWithValues: zip(cases.map(\.name), zip(cases, bodies)))
        // Sampled choices differ from one another; the first is the job with the plain seed.
        let three = try #require(byName["chat, three sampled choices"]?.0)
        #expect(Set(three.choices.map(\.text)).count > 1)
        // Logprobs: the greedy token is the most likely, alternatives best first, as many as asked.
        let withLogprobs = try #require(byName["chat, greedy with logprobs"]?.0.choices[0].logprobs)
        for entry in withLogprobs {
            #expect(entry.top.count == 3 && entry.top[0].bytes == entry.bytes && entry.top[0].logprob == entry.logprob)
            #expect(zip(entry.top, entry.top.dropFirst()).allSatisfy { $0.logprob >= $1.logprob } && entry.logprob <= 0)
        }
        #expect(byName["chat, logprobs without alternatives"]?.0.choices[0].logprobs?.allSatisfy(\.top.isEmpty) == true)
        // logit_bias takes effect: a banned first token never comes, a forced one always does.
        let bannedAnswer = try #require(byName["chat, greedy, first token banned"]?.0.choices[0].logprobs?.first)
        #expect(bannedAnswer.bytes != tokenizer.tokenBytes(banned))
        let forced = try #require(byName["chat, greedy, a token forced"]?.0.choices[0].logprobs?.first)
        #expect(forced.bytes == tokenizer.tokenBytes(boosted))
        // The penalties change the answer: the same request without them answers otherwise.
        for name in ["chat, every control, sampled", "chat, every control, greedy, streamed"] {
            let (report, body) = try #require(byName[name])
            var job = try limits.job(
                from: JSONDecoder().decode(ChatCompletionRequest.self, from: body), chosenSeed: report.receipt.seed)
            (job.presencePenalty, job.frequencyPenalty, job.repetitionPenalty, job.minP) = (0, 0, 1, 0)
            #expect(try engine.complete(job).text != report.choices[0].text, "\(name)")
        }
    }

    /// Re-executes every answer the referee's way and checks it against its receipt and what was received:
    /// the input hash of the body as sent, the output hash of the re-run and of the received answer, usage,
    /// every choice's text, finish reason and log-probabilities (and the legacy arrays' agreement with them).
    static func reExecute(_ cases: [Case], bodies: [Data]) throws {
        let engine = SharedEngine.engine
        let limits = RequestLimits()
        for (report, body) in zip(cases, bodies) {
            let name = report.name
            let job =
                report.chat
                ? try limits.job(from: ChatCompletionRequest.decode(body), chosenSeed: report.receipt.seed)
                : try limits.job(
                    from: JSONDecoder().decode(TextCompletionRequest.self, from: body), chosenSeed: report.receipt.seed)
            #expect(report.receipt.hasValidSignature, "\(name)")
            #expect(report.receipt.inputHash == job.inputHash(modelHash: engine.modelHash), "\(name)")
            let rerun = try engine.complete(job)
            #expect(report.receipt.outputHash == rerun.outputHash, "\(name): the re-run's output hash")
            #expect(report.usage == [rerun.promptTokens, rerun.completionTokens], "\(name)")
            #expect(report.choices.map(\.index) == Array(0..<job.n), "\(name)")
            for (received, expected) in zip(report.choices, rerun.choices) {
                #expect(received.text == expected.text, "\(name)")
                // With tools, a stop after calls is reported as `tool_calls`.
                #expect(
                    received.finish == expected.finishReason
                        || (received.finish == "tool_calls" && expected.finishReason == "stop"), "\(name)")
                #expect(Self.same(received.logprobs, expected.logprobs), "\(name): logprobs")
                if let legacy = received.legacy, let entries = expected.logprobs {
                    #expect(legacy.tokens == entries.map { String(decoding: $0.bytes, as: UTF8.self) }, "\(name)")
                    #expect(legacy.token_logprobs.map { Float($0) } == entries.map(\.logprob), "\(name)")
                    let lengths = entries.map(\.bytes.count)
                    let offsets = lengths.indices.map { lengths[..<$0].reduce(0, +) }
                    #expect(legacy.text_offset == offsets, "\(name)")
                    let distinct = entries.map { entry in
                        Set(entry.top.map { String(decoding: $0.bytes, as: UTF8.self) }).count
                    }
                    #expect(legacy.top.map(\.count) == distinct, "\(name)")
                }
            }
            // What a client checks from the answer alone: the output hash of what it received.
            let received = CompletionOutcome(
                choices: report.choices.map {
                    ChoiceOutcome(
                        text: $0.text, completionTokens: 0, finishReason: $0.finish ?? "",
                        logprobs: $0.logprobs.map(Self.outputLogprobs))
                }, promptTokens: 0)
            #expect(received.outputHash == report.receipt.outputHash, "\(name): the received answer's hash")
        }

    }

    static func same(_ received: [Case.Entry]?, _ expected: [OutputLogprob]?) -> Bool {
        guard let received, let expected else { return received == nil && expected == nil }
        return received.count == expected.count
            && zip(received, expected).allSatisfy { got, want in
                got.bytes == want.bytes && Float(got.logprob) == want.logprob && got.top.count == want.top.count
                    && zip(got.top, want.top).allSatisfy { $0.bytes == $1.bytes && Float($0.logprob) == $1.logprob }
            }
    }

    static func outputLogprobs(_ entries: [Case.Entry]) -> [OutputLogprob] {
        entries.map { entry in
            OutputLogprob(
                token: 0, bytes: entry.bytes, logprob: Float(entry.logprob),
                top: entry.top.map { .init(token: 0, bytes: $0.bytes, logprob: Float($0.logprob)) })
        }
    }

    /// Runs a script of `Tests/Clients` with python3, off the cooperative pool (it talks to this process).
    struct StructuredReport: Decodable {
        var cases: [Case]
        var problems: [String]
        var parsed: Bool
        var refused: [OpenAIClientTests.JSONScalar]
        var parsed_text: String
    }

    /// `response_format` through the official client: json_schema greedy, sampled with three choices and
    /// streamed, json_object, the client's `parse()` with a pydantic model; each answer parses and validates
    /// (`jsonschema`, in the script) and re-executes to its receipt; a schema keyword the node cannot enforce
    /// is refused by name.
    @Test func structuredOutputParsesValidatesAndReExecutes() async throws {
        let harness = try NodeHarness()
        try await harness.start(free: true)
        let (data, errorText, status) = try await Self.runScript(
            "openai_structured_check.py", arguments: [harness.baseURL.absoluteString])
        await harness.stop()
        #expect(status == 0, "openai client failed: \(errorText)")
        let report = try JSONDecoder().decode(StructuredReport.self, from: data)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.parsed, "\(report.parsed_text)")
        #expect(
            report.refused
                == [
                    .number(400), .string("unsupported_parameter"),
                    .string("response_format.json_schema.schema.properties.age.minimum"),
                ])
        #expect(report.cases.count == 4 && report.cases[1].choices.count == 3)
        try Self.reExecute(report.cases, bodies: report.cases.map { Data($0.body.utf8) })
    }

    struct ToolsReport: Decodable {
        struct Call: Decodable {
            var id: String?
            var name: String
            var arguments: String
        }
        struct ToolCase: Decodable {
            var calls: [Call]
        }
        var cases: [Case]
        var problems: [String]
        var final: String?
    }

    /// Tool calling through the official client: a required call, a named one, a streamed one, one call
    /// only, `auto`, then the call's result sent back and the final answer in text. Every call's arguments
    /// validate (in the script); every answer re-executes to its receipt, and its calls are the ones its
    /// text parses to.
    @Test func toolCallsEndToEnd() async throws {
        let harness = try NodeHarness()
        try await harness.start(free: true)
        let (data, errorText, status) = try await Self.runScript(
            "openai_tools_check.py", arguments: [harness.baseURL.absoluteString])
        await harness.stop()
        #expect(status == 0, "openai client failed: \(errorText)")
        let report = try JSONDecoder().decode(ToolsReport.self, from: data)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.cases.count == 6 && !(report.final ?? "").isEmpty)
        try Self.reExecute(report.cases, bodies: report.cases.map { Data($0.body.utf8) })
        struct Calls: Decodable { var cases: [ToolsReport.ToolCase] }
        let calls = try JSONDecoder().decode(Calls.self, from: data).cases
        for (report, toolCase) in zip(report.cases, calls) where !toolCase.calls.isEmpty {
            let parsed = try #require(ToolFormat.hermes.parse(report.choices[0].text))
            #expect(parsed.calls.map(\.name) == toolCase.calls.map(\.name), "\(report.name)")
            #expect(parsed.calls.map(\.arguments) == toolCase.calls.map(\.arguments), "\(report.name)")
        }
    }

    struct ResponsesReport: Decodable {
        var cases: [Case]
        var problems: [String]
        var refused: [String: [OpenAIClientTests.JSONScalar]]
    }

    /// `POST /v1/responses` with the official client's `responses.create` and `responses.stream`: text with
    /// instructions, `text.format` json_schema, a function call and its output sent back, streamed events;
    /// each answer is the chat job it stands for and re-executes to its receipt; `store`,
    /// `previous_response_id` and `reasoning` are refused by name.
    @Test func responsesEndpoint() async throws {
        let harness = try NodeHarness()
        try await harness.start(free: true)
        let (data, errorText, status) = try await Self.runScript(
            "openai_responses_check.py", arguments: [harness.baseURL.absoluteString])
        await harness.stop()
        #expect(status == 0, "openai client failed: \(errorText)")
        let report = try JSONDecoder().decode(ResponsesReport.self, from: data)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.cases.count == 5)
        for key in ["store", "previous_response_id", "reasoning"] {
            #expect(report.refused[key] == [.number(400), .string("unsupported_parameter"), .string(key)], "\(key)")
        }
        let bodies = try report.cases.map { try ResponsesAPI.chatBody(Data($0.body.utf8)).body }
        try Self.reExecute(report.cases, bodies: bodies)
    }

    static func runScript(_ name: String, arguments: [String]) async throws -> (Data, String, Int32) {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Clients/\(name)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path] + arguments
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        return try await offCooperativePool {
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (data, errorText, process.terminationStatus)
        }
    }
}
