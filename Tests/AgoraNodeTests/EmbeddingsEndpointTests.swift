import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation
import Testing

@testable import AgoraNode

/// `POST /v1/embeddings` on a node started with an embedding model beside its chat model.
@Suite("embeddings endpoint", .serialized)
struct EmbeddingsEndpointTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var text: String
            var bits: String
        }
        var cases: [Case]
    }

    static func fixture() throws -> Fixture {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/embeddings_minilm.json")
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    static func engine() throws -> LocalEmbeddingEngine {
        guard let engine = SharedEmbeddingEngine.engine else {
            try Test.cancel("all-MiniLM-L6-v2.gguf is not in the model cache (bash .ci/run makes it)")
        }
        return engine
    }

    /// llama.cpp's bits (big-endian hex per float in the fixture) as the little-endian bytes a client receives.
    static func littleEndianHex(_ bits: String) -> String {
        let bytes = Array(bits.utf8)
        return stride(from: 0, to: bytes.count, by: 8).map { i in
            let word = bytes[i..<i + 8].map { Character(UnicodeScalar($0)) }
            return String([word[6], word[7], word[4], word[5], word[2], word[3], word[0], word[1]])
        }.joined()
    }

    struct Report: Decodable {
        struct Case: Decodable {
            var name: String
            var body: String
            var receipt: JobReceipt
            var vectors: [String]
        }
        var cases: [Case]
        var problems: [String]
        var refused: [String: [OpenAIClientTests.JSONScalar]]
    }

    /// The official client: one text (base64 on the wire), a batch as floats, `dimensions`, token ids; every
    /// vector equals llama.cpp's, hashes on the client side to the receipt, and re-executes (the referee's
    /// path) to the receipt's output hash; bad requests are refused by name.
    @Test func officialClientGetsLlamaCppsVectorsAndReceiptsThatReExecute() async throws {
        let engine = try Self.engine()
        let fixture = try Self.fixture()
        let sentences = Array(fixture.cases.prefix(3))
        let harness = try NodeHarness()
        try await harness.start(free: true, embeddings: engine)
        let (data, errorText, status) = try await OpenAISamplingTests.runScript(
            "openai_embeddings_check.py", arguments: [harness.baseURL.absoluteString] + sentences.map(\.text))
        await harness.stop()
        #expect(status == 0, "openai client failed: \(errorText)")
        let report = try JSONDecoder().decode(Report.self, from: data)
        #expect(report.problems.isEmpty, "\(report.problems)")
        #expect(report.cases.count == 5)
        // llama.cpp's vectors, whether sent as base64 or as JSON numbers.
        #expect(report.cases[0].vectors == [Self.littleEndianHex(sentences[0].bits)])
        #expect(report.cases[1].vectors == sentences.map { Self.littleEndianHex($0.bits) })
        #expect(report.cases[2].vectors == [Self.littleEndianHex(sentences[1].bits)])
        let expectedRefusals: [String: [OpenAIClientTests.JSONScalar]] = [
            "dimensions": [.number(400), .string("unsupported_parameter"), .string("dimensions")],
            "empty": [.number(400), .string("invalid_request"), .string("input")],
            "unknown": [.number(400), .string("unsupported_parameter"), .string("truncate")],
            "model": [.number(404), .string("model_not_found"), .string("model")],
            "too long": [.number(400), .string("invalid_request"), .string("input")],
            "token range": [.number(400), .string("invalid_request"), .string("input")],
        ]
        #expect(report.refused == expectedRefusals)
        for test in report.cases {
            let job = try EmbeddingsAPI.request(Data(test.body.utf8), dimensions: 384).job
            #expect(job.inputHash(modelHash: engine.modelHash) == test.receipt.inputHash, "\(test.name)")
            #expect(test.receipt.hasValidSignature && test.receipt.modelHash == engine.modelHash)
            let outcome = try engine.complete(job)
            #expect(outcome.outputHash == test.receipt.outputHash, "\(test.name)")
            #expect(outcome.promptTokens == Int(test.receipt.inputTokens) && test.receipt.outputTokens == 0)
            // The canonical request survives the ledger's reveal (bytes and JSON).
            #expect(try JobRequest(canonicalBytes: job.canonicalBytes) == job)
            #expect(try JSONDecoder().decode(JobRequest.self, from: JSONEncoder().encode(job)) == job)
        }
    }

    /// Paid: the terms price the inputs' tokens only, the receipt charges exactly them and checks out against
    /// the voucher.
    @Test func paidEmbeddingsChargeTheInputTokens() async throws {
        let engine = try Self.engine()
        let harness = try NodeHarness()
        try await harness.start(embeddings: engine)
        let body = Data(#"{"model": "all-MiniLM-L6-v2", "input": ["The capital of France is Paris.", "hello"]}"#.utf8)
        let offer = try await harness.terms(for: body, path: "v1/embeddings")
        #expect(offer.extra.modelHash == engine.modelHash)
        let tokens = 9 + 3
        #expect(offer.amount == String(tokens * Int(NodeHarness.prices.perInputToken.microUnits)))
        let voucher = harness.voucher(paying: offer)
        let (status, headers, data) = try await harness.pay(
            body, voucher: voucher, accepted: offer, path: "v1/embeddings")
        #expect(status == 200, "\(String(decoding: data, as: UTF8.self))")
        struct Answer: Decodable {
            struct Item: Decodable { var embedding: [Float] }
            var data: [Item]
            var agora_receipt: JobReceipt
        }
        let answer = try JSONDecoder().decode(Answer.self, from: data)
        let receipt = answer.agora_receipt
        #expect(receipt.amount.microUnits == UInt64(tokens) && receipt.inputTokens == UInt32(tokens))
        #expect(receipt.outputHash == ReceiptVerifier.embeddingsHash(answer.data.map(\.embedding)))
        #expect(receipt.inputHash == offer.extra.inputHash && receipt.jobID == offer.extra.jobId)
        let settlement = try X402.decodeHeader(
            X402.SettlementResponse.self, from: try #require(headers["payment-response"]))
        #expect(settlement.amount == String(tokens))
        await harness.stop()
    }

    /// Each model serves its own endpoint: no embedding model → `/v1/embeddings` is refused (404
    /// `model_not_found`); the embedding model named in a chat request is refused the same way; `/v1/models` lists both with their hashes.
    @Test func eachModelServesItsOwnEndpoint() async throws {
        let engine = try Self.engine()
        let plain = try NodeHarness()
        try await plain.start(free: true)
        let body = Data(#"{"input": "hello"}"#.utf8)
        let (status, _, data) = try await plain.post("v1/embeddings", body: body)
        #expect(status == 404 && String(decoding: data, as: UTF8.self).contains("model_not_found"))
        await plain.stop()

        let harness = try NodeHarness()
        try await harness.start(free: true, embeddings: engine)
        let chat = Data(#"{"model": "all-MiniLM-L6-v2", "messages": [{"role": "user", "content": "hi"}]}"#.utf8)
        let (chatStatus, _, chatData) = try await harness.post("v1/chat/completions", body: chat)
        #expect(chatStatus == 404 && String(decoding: chatData, as: UTF8.self).contains("model_not_found"))
        let (_, models) = try await harness.get("v1/models")
        struct List: Decodable {
            struct Entry: Decodable {
                struct Info: Decodable { var modelHash: String }
                var id: String
                var agora: Info
            }
            var data: [Entry]
        }
        let list = try JSONDecoder().decode(List.self, from: models)
        #expect(list.data.map(\.id) == [SharedEngine.engine.modelName, "all-MiniLM-L6-v2"])
        #expect(list.data.last?.agora.modelHash == engine.modelHash.hex)
        // Malformed bodies: refused with the field named, nothing run.
        for (text, param) in [
            (#"{"input": true}"#, "input"), (#"{"input": [1.5]}"#, "input"), (#"{"input": []}"#, "input"),
            (#"{"input": [-1]}"#, "input"), (#"{"input": "x", "encoding_format": "int8"}"#, "encoding_format"),
            (#"{"input": "x", "stream": true}"#, "stream"), (#"{"model": "all-MiniLM-L6-v2"}"#, "input"),
        ] {
            let (code, _, reply) = try await harness.post("v1/embeddings", body: Data(text.utf8))
            #expect(code == 400 && String(decoding: reply, as: UTF8.self).contains(#""param":"\#(param)""#), "\(text)")
        }
        await harness.stop()
    }
}
