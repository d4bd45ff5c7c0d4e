import AgoraClient
import AgoraCore
import AgoraNode
import AgoraWire
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
