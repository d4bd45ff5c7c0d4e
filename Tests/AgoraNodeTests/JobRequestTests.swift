import AgoraClient
import AgoraCore
import AgoraNode
import AgoraWire
import Foundation
import Testing

@Suite struct JobRequestTests {
    let limits = RequestLimits(maxTokens: 64, defaultMaxTokens: 16)

    @Test func inputHashCoversEverySetting() throws {
        let base = ChatCompletionRequest(
            messages: [OpenAIMessage(role: "user", content: "hi")], maxTokens: 8, temperature: 0.5, seed: 3)
        let model = Hash256.of([1])
        let hash = try limits.job(from: base, chosenSeed: 9).inputHash(modelHash: model)
        var variants: [ChatCompletionRequest] = []
        var changed = base
        changed.messages[0].content = "hi!"
        variants.append(changed)
        changed = base
        changed.maxTokens = 9
        variants.append(changed)
        changed = base
        changed.temperature = 0.6
        variants.append(changed)
        changed = base
        changed.seed = 4
        variants.append(changed)
        changed = base
        changed.stop = StopSequences(["x"])
        variants.append(changed)
        changed = base
        changed.messages[0].role = "system"
        variants.append(changed)
        for edit in [
            { (r: inout ChatCompletionRequest) in r.n = 2 }, { $0.logprobs = true }, { $0.minP = 0.1 },
            { $0.repetitionPenalty = 1.2 }, { $0.presencePenalty = 0.5 }, { $0.frequencyPenalty = -0.5 },
            { $0.logitBias = ["5": 1] }, { $0.logitBias = ["5": 2] }, { $0.logitBias = ["6": 1] },
        ] as [(inout ChatCompletionRequest) -> Void] {
            changed = base
            edit(&changed)
            variants.append(changed)
        }
        changed = base
        changed.logprobs = true
        changed.topLogprobs = 3
        variants.append(changed)
        for variant in variants {
            #expect(try limits.job(from: variant, chosenSeed: 9).inputHash(modelHash: model) != hash)
        }
        #expect(try limits.job(from: base, chosenSeed: 9).inputHash(modelHash: Hash256.of([2])) != hash)
        // The same request hashes the same, and a missing seed takes the chosen one.
        #expect(try limits.job(from: base, chosenSeed: 10).inputHash(modelHash: model) == hash)
        var unseeded = base
        unseeded.seed = nil
        #expect(try limits.job(from: unseeded, chosenSeed: 3).inputHash(modelHash: model) == hash)
    }

    /// The optional fields round-trip through the canonical bytes and JSON, and every other spelling of a
    /// job is refused: a neutral value written out, tags out of order or unknown, biases out of order.
    @Test func optionsHaveOneEncoding() throws {
        var request = ChatCompletionRequest(messages: [OpenAIMessage(role: "user", content: "hi")], maxTokens: 8)
        request.n = 3
        request.logprobs = true
        request.topLogprobs = 2
        request.minP = 0.05
        request.repetitionPenalty = 1.1
        request.presencePenalty = -0.5
        request.frequencyPenalty = 0.25
        request.logitBias = ["300": -100, "2": 3.5]
        let job = try limits.job(from: request, chosenSeed: 1)
        #expect(job.logitBias.map(\.token) == [2, 300] && job.n == 3 && job.logprobs == 2)
        #expect(try JobRequest(canonicalBytes: job.canonicalBytes) == job)
        #expect(try JSONDecoder().decode(JobRequest.self, from: JSONEncoder().encode(job)) == job)
        let plain = try limits.job(
            from: ChatCompletionRequest(messages: [OpenAIMessage(role: "user", content: "hi")], maxTokens: 8),
            chosenSeed: 1)
        #expect(try JobRequest(canonicalBytes: plain.canonicalBytes) == plain)
        let base = plain.canonicalBytes
        let refused: [[UInt8]] = [
            base + [1, 0, 0, 0, 1],  // n = 1 written out
            base + [3, 0, 0, 0, 0],  // min_p = 0
            base + [4, 0x3F, 0x80, 0, 0],  // repetition 1.0
            base + [5, 0x80, 0, 0, 0],  // presence -0.0
            base + [3, 0x3D, 0x4C, 0xCC, 0xCD, 1, 0, 0, 0, 2],  // tags out of order
            base + [8, 0, 0, 0, 0],  // unknown tag
            base + [7, 0, 0, 0, 0],  // empty bias list
            base + [7, 0, 0, 0, 2, 0, 0, 0, 9, 0x3F, 0x80, 0, 0, 0, 0, 0, 3, 0x3F, 0x80, 0, 0],  // ids not increasing
            base + [7, 0xFF, 0xFF, 0xFF, 0xFF],  // a count beyond the limit
            base + [2, 0, 0],  // cut short
        ]
        for bytes in refused {
            #expect(throws: CanonicalDecodingError.self) { try JobRequest(canonicalBytes: bytes) }
        }
        // Tool turns (input kind 3) and tools (option 9) round-trip; kind 3 without any tool field is refused.
        let body = Data(
            #"{"messages":[{"role":"user","content":"w?"},{"role":"assistant","content":null,"tool_calls":[{"id":"c1","type":"function","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"c1","content":"21"}],"tools":[{"type":"function","function":{"name":"f","parameters":{"type":"object","properties":{"b":{},"a":{}}}}}],"tool_choice":"required"}"#
                .utf8)
        let withTools = try limits.job(from: ChatCompletionRequest.decode(body), chosenSeed: 1)
        #expect(withTools.canonicalBytes.first == 3 && withTools.tools?.choice == .required)
        #expect(withTools.tools?.tools.first?.parameters == #"{"type":"object","properties":{"b":{},"a":{}}}"#)
        #expect(try JobRequest(canonicalBytes: withTools.canonicalBytes) == withTools)
        #expect(try JSONDecoder().decode(JobRequest.self, from: JSONEncoder().encode(withTools)) == withTools)
        var kindThree = plain.canonicalBytes
        kindThree[0] = 3
        #expect(throws: CanonicalDecodingError.self) { try JobRequest(canonicalBytes: kindThree) }
        // Choice seeds: the first is the job's, the others differ and are reproducible.
        #expect(job.seed(ofChoice: 0) == job.seed)
        #expect(Set((0..<3).map(job.seed(ofChoice:))).count == 3 && job.seed(ofChoice: 2) == job.seed(ofChoice: 2))
        #expect(job.maxOutputTokens == 24)
    }

    @Test func badSettingsAreRefusedByName() {
        let message = [OpenAIMessage(role: "user", content: "x")]
        #expect(throws: RequestError.self) { try limits.job(from: ChatCompletionRequest(messages: []), chosenSeed: 0) }
        #expect(throws: RequestError.self) {
            try limits.job(from: ChatCompletionRequest(messages: message, maxTokens: 65), chosenSeed: 0)
        }
        #expect(throws: RequestError.self) {
            try limits.job(from: ChatCompletionRequest(messages: message, temperature: -1), chosenSeed: 0)
        }
        #expect(throws: RequestError.self) {
            try limits.job(from: ChatCompletionRequest(messages: message, topP: 0), chosenSeed: 0)
        }
        #expect(throws: RequestError.self) {
            try limits.job(
                from: ChatCompletionRequest(messages: [OpenAIMessage(role: "robot", content: "x")]), chosenSeed: 0)
        }
        #expect(throws: RequestError.self) {
            try limits.job(
                from: ChatCompletionRequest(messages: message, stop: ["a", "b", "c", "d", "e"]), chosenSeed: 0)
        }
    }
}
