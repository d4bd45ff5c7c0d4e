import AgoraClient
import AgoraCore
import AgoraNode
import AgoraWire
import Foundation
import Testing

/// The official `openai` Python client (installed by `.ci/run`) against a free node on loopback: a chat
/// completion, a streamed one, a legacy completion and `models.list()`. The texts must equal what the
/// Swift engine produces for the same requests and seeds.
@Suite(.serialized) struct OpenAIClientTests {
    struct Report: Decodable {
        var models: [String]
        var chat_text: String
        var chat_finish: String
        var chat_usage: [Int]
        var stream_text: String
        var stream_finish: String?
        var legacy_text: String
        var unknown_model_status: Int
        /// Per unsupported parameter: status, error code, error param.
        var refused: [String: [JSONScalar]]
        var neutral_text: String
        var parts_text: String
        var joined_text: String
        var image_part: [JSONScalar]
    }

    /// A status (number), code or param (string), or null, as the Python script reports them.
    enum JSONScalar: Decodable, Equatable {
        case number(Int), string(String), null
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if container.decodeNil() {
                self = .null
            } else if let number = try? container.decode(Int.self) {
                self = .number(number)
            } else {
                self = .string(try container.decode(String.self))
            }
        }
    }

    @Test func officialOpenAIClientGetsTheEngineOutput() async throws {
        let harness = try NodeHarness()
        try await harness.start(free: true)
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Clients/openai_check.py")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script.path, harness.baseURL.absoluteString]
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        // The child talks to this process's server: wait for it off the cooperative pool.
        let (data, errorText) = try await offCooperativePool {
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            let errorText = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (data, errorText)
        }
        await harness.stop()
        #expect(process.terminationStatus == 0, "openai client failed: \(errorText)")
        let report = try JSONDecoder().decode(Report.self, from: data)

        let engine = SharedEngine.engine
        let limits = RequestLimits()
        let messages = [OpenAIMessage(role: "user", content: "What is the capital of France?")]
        let chatJob = try limits.job(
            from: ChatCompletionRequest(
                model: engine.modelName, messages: messages, maxTokens: 16, temperature: 0.7, seed: 42),
            chosenSeed: 0)
        let expectedChat = try engine.complete(chatJob)
        var legacyRequest = try JSONDecoder().decode(
            TextCompletionRequest.self,
            from: Data(#"{"prompt": "The capital of France is", "max_tokens": 8, "temperature": 0, "seed": 1}"#.utf8))
        legacyRequest.model = engine.modelName
        let expectedLegacy = try engine.complete(try limits.job(from: legacyRequest, chosenSeed: 0))

        #expect(report.models == [engine.modelName])
        #expect(report.chat_text == expectedChat.text)
        #expect(report.chat_finish == expectedChat.finishReason)
        #expect(report.chat_usage == [expectedChat.promptTokens, expectedChat.completionTokens])
        #expect(report.stream_text == expectedChat.text)
        #expect(report.stream_finish == expectedChat.finishReason)
        #expect(report.legacy_text == expectedLegacy.text)
        #expect(report.unknown_model_status == 404)
        let names = ["prediction", "modalities", "service_tier"]
        #expect(report.refused.keys.sorted() == names.sorted())
        for name in names {
            #expect(report.refused[name] == [.number(400), .string("unsupported_parameter"), .string(name)], "\(name)")
        }
        #expect(report.neutral_text == expectedChat.text)
        #expect(report.parts_text == report.joined_text && !report.parts_text.isEmpty)
        #expect(
            report.image_part == [.number(400), .string("unsupported_parameter"), .string("messages.0.content.1.type")])
    }
}
