import AgoraCore
import AgoraNode
import AgoraWire
import Foundation
import Testing

/// A node serves concurrent requests in one batch; each still gets the answer (and receipt) it gets alone,
/// and admission is by KV-cache memory.
@Suite struct BatchedServingTests {
    /// Greedy or seeded: a request without a seed is sampled with one derived from its fresh job id.
    static let bodies: [String] = [
        #"{"messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 12, "temperature": 0}"#,
        #"{"messages": [{"role": "user", "content": "Tell me a story about a cat."}], "max_tokens": 16, "temperature": 0.9, "seed": 11}"#,
        #"{"prompt": "Once upon a time", "max_tokens": 10, "seed": 3}"#,
        #"{"messages": [{"role": "user", "content": "Name three colors."}], "max_tokens": 14, "temperature": 1.1, "seed": 5, "stream": true}"#,
    ]

    static func path(_ body: String) -> String {
        body.contains("\"prompt\"") ? "v1/completions" : "v1/chat/completions"
    }

    /// What a request produced: its text (joined from a stream's deltas) and its receipt's output hash.
    static func answer(_ data: Data, streamed: Bool) throws -> (text: String, outputHash: String) {
        guard streamed else {
            let json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
            let choice = try #require((json["choices"] as? [[String: Any]])?.first)
            let text = (choice["message"] as? [String: Any])?["content"] as? String ?? choice["text"] as? String
            let receipt = try #require(json["agora_receipt"] as? [String: Any])
            return (try #require(text), try #require(receipt["outputHash"] as? String))
        }
        var text = ""
        var outputHash: String?
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") where line.hasPrefix("data: {") {
            let json = try #require(
                try JSONSerialization.jsonObject(with: Data(line.dropFirst(6).utf8)) as? [String: Any])
            if let delta = ((json["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["content"]
                as? String
            {
                text += delta
            }
            if let receipt = json["agora_receipt"] as? [String: Any] { outputHash = receipt["outputHash"] as? String }
        }
        return (text, try #require(outputHash))
    }

    @Test func concurrentRequestsGetTheAnswersTheyGetAlone() async throws {
        let harness = try NodeHarness()
        try await harness.start(free: true, configuration: .init(concurrency: 4, queueLimit: 8))
        var alone: [(text: String, outputHash: String)] = []
        for body in Self.bodies {
            let (status, _, data) = try await harness.post(Self.path(body), body: Data(body.utf8))
            #expect(status == 200)
            alone.append(try Self.answer(data, streamed: body.contains("stream")))
        }
        // Twice the batch at once: the second half waits for places and joins as the first half leaves.
        let together = try await withThrowingTaskGroup(of: (Int, (text: String, outputHash: String)).self) { group in
            for index in 0..<(2 * Self.bodies.count) {
                let body = Self.bodies[index % Self.bodies.count]
                group.addTask {
                    let (status, _, data) = try await harness.post(Self.path(body), body: Data(body.utf8))
                    #expect(status == 200)
                    return (index, try Self.answer(data, streamed: body.contains("stream")))
                }
            }
            var answers: [Int: (text: String, outputHash: String)] = [:]
            for try await (index, answer) in group { answers[index] = answer }
            return answers
        }
        for (index, answer) in together {
            let want = alone[index % Self.bodies.count]
            #expect(answer.text == want.text && answer.outputHash == want.outputHash, "request \(index)")
        }
        #expect(together.count == 2 * Self.bodies.count)
        await harness.stop()
    }

    @Test func aJobLargerThanTheWholeMemoryBudgetIsRefusedBeforeAnyonePays() async throws {
        let harness = try NodeHarness()
        let perPosition = SharedEngine.engine.engine.kvBytesPerPosition
        try await harness.start(configuration: .init(memoryBudget: 100 * perPosition))
        let large = Data(#"{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 200}"#.utf8)
        let (status, _, data) = try await harness.post("v1/chat/completions", body: large)
        #expect(status == 400)
        let error = try #require(
            (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["error"] as? [String: Any])
        #expect(error["code"] as? String == "exceeds_memory_budget")
        #expect(error["param"] as? String == "max_tokens")
        // A job that fits is offered terms as usual.
        let small = Data(#"{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 20}"#.utf8)
        #expect(try await harness.post("v1/chat/completions", body: small).0 == 402)
        await harness.stop()
    }
}

/// Admission by memory, in arrival order.
@Suite struct AdmissionControlTests {
    @Test func jobsWaitForMemoryInArrivalOrderAndAFullQueueIsRefused() async throws {
        let admission = AdmissionControl(concurrency: 4, memoryBudget: 100, queueLimit: 2)
        try await admission.enter(bytes: 60)
        let order = OrderLog()
        // 60 more does not fit; 10 would, but does not overtake the job waiting before it.
        let big = Task {
            try await admission.enter(bytes: 60); await order.append("big")
        }
        while await admission.queueDepth < 1 { await Task.yield() }
        let small = Task {
            try await admission.enter(bytes: 10); await order.append("small")
        }
        while await admission.queueDepth < 2 { await Task.yield() }
        await #expect(throws: AdmissionControl.Overloaded.self) { try await admission.enter(bytes: 1) }
        #expect(await order.entries.isEmpty)
        await admission.leave(bytes: 60)
        try await big.value
        try await small.value
        #expect(await order.entries == ["big", "small"])
        #expect(await admission.reservedBytes == 70)
        #expect(await admission.runningCount == 2)
        #expect(!admission.fitsAtAll(101) && admission.fitsAtAll(100))
    }

    @Test func theBatchSizeBoundsJobsEvenWhenMemoryIsFree() async throws {
        let admission = AdmissionControl(concurrency: 1, memoryBudget: 1 << 30, queueLimit: 0)
        try await admission.enter(bytes: 1)
        await #expect(throws: AdmissionControl.Overloaded.self) { try await admission.enter(bytes: 1) }
        await admission.leave(bytes: 1)
        try await admission.enter(bytes: 1)
        #expect(await admission.runningCount == 1)
    }

    actor OrderLog {
        var entries: [String] = []
        func append(_ entry: String) { entries.append(entry) }
    }
}
