import AgoraCore
import CAgoraKernels
import Foundation
import Testing

@testable import AgoraInference

/// all-MiniLM-L6-v2 (the `bert` architecture): Agora's sentence vectors equal llama.cpp's bit for bit.
///
/// `Tests/Fixtures/embeddings_minilm.json` holds llama.cpp's vectors of `embedding_sentences.txt` (every float's
/// bits; recorded by `Scripts/make_embedding_fixture.py`, which checks them against `llama-embedding`'s own
/// printed values), one sentence per batch. Agora encodes all sentences in one batch and each must still get
/// its own bits. The sentences are 5 to 69 tokens long: lengths that are multiples of 8 (llama.cpp's tinyBLAS
/// order for probabilities x values) and others (ggml_vec_dot_f32's, with its leftovers).
@Suite("sentence embeddings")
struct EmbeddingTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var text: String
            var tokens: Int
            var bits: String
        }
        var model_sha256: String
        var cases: [Case]
    }

    static let modelURL: URL = {
        let models =
            (try? TestModel.defaultModelURL().deletingLastPathComponent())
            ?? URL(fileURLWithPath: NSHomeDirectory()).appendingPathComponent(".cache/agora/models")
        return models.appendingPathComponent("all-MiniLM-L6-v2.gguf")
    }()

    /// The engine on `path`, or a reported skip when the converted model is not in the cache.
    static func engine(_ path: KernelPath = .current, threads: Int = 2) throws -> EmbeddingEngine {
        guard FileManager.default.fileExists(atPath: modelURL.path) else {
            try Test.cancel("\(modelURL.path) is missing (bash .ci/run makes it with Scripts/convert_minilm.py)")
        }
        return try EmbeddingEngine(modelURL: modelURL, threads: threads, kernelPath: path)
    }

    static func expected(_ hex: String) -> [UInt32] {
        let bytes = Array(hex.utf8)
        return stride(from: 0, to: bytes.count, by: 8).map {
            UInt32(String(decoding: bytes[$0..<$0 + 8], as: UTF8.self), radix: 16)!
        }
    }

    // The encoding runs off the cooperative pool: seconds of CPU on its threads would starve the suite's
    // servers and ledger followers, which run there.
    @Test func miniLMEmbeddingsEqualLlamaCppBitForBit() async throws {
        let fixture = try TestModel.fixture("embeddings_minilm.json", as: Fixture.self)
        #expect(fixture.cases.count >= 50)
        let engine = try Self.engine()
        // The converted file is the one llama.cpp's vectors were recorded on.
        #expect(try FileSHA256.digest(of: Self.modelURL).hex == fixture.model_sha256)
        let inputs = try fixture.cases.enumerated().map { try engine.tokens(for: $1.text, index: $0) }
        let vectors = try await offCooperativePool { engine.embed(inputs) }
        for (i, test) in fixture.cases.enumerated() {
            #expect(inputs[i].count == test.tokens, "\(test.text)")
            #expect(vectors[i].map(\.bitPattern) == Self.expected(test.bits), "\(test.text)")
        }
        let norms = vectors.map { v in v.reduce(0) { $0 + Double($1) * Double($1) }.squareRoot() }
        #expect(norms.allSatisfy { abs($0 - 1) < 1e-5 })
    }

    /// Every kernel path, every thread count and every batch composition give the same bits (a subset of the
    /// sentences: the long ones and the shortest cover every order; the scalar path, which calls libm's fmaf
    /// per product, gets three of them and one thread count).
    @Test(arguments: KernelPath.supported)
    func everyPathGivesTheSameBits(path: KernelPath) async throws {
        let fixture = try TestModel.fixture("embeddings_minilm.json", as: Fixture.self)
        let scalarLengths: Set<Int> = [5, 40, 69]
        let picked = fixture.cases.filter {
            path == .scalar ? scalarLengths.contains($0.tokens) : ($0.tokens >= 33 || $0.tokens == 5 || $0.tokens == 8)
        }
        #expect(picked.contains { $0.tokens % 8 == 0 } && picked.contains { $0.tokens % 8 >= 4 })
        for threads in path == .scalar ? [2] : [1, 3] {
            let engine = try Self.engine(path, threads: threads)
            let inputs = try picked.map { try engine.tokens(for: $0.text) }
            let (together, alone) = try await offCooperativePool {
                (engine.embed(inputs), inputs.map { engine.embed([$0])[0] })
            }
            for (i, test) in picked.enumerated() {
                #expect(together[i].map(\.bitPattern) == Self.expected(test.bits), "\(path) \(threads): \(test.text)")
                #expect(alone[i] == together[i])
            }
        }
    }

    @Test func badInputsAreRefusedByName() throws {
        let engine = try Self.engine()
        #expect(throws: EmbeddingError.emptyInput(index: 3)) { try engine.tokens(for: "", index: 3) }
        #expect(throws: EmbeddingError.emptyInput(index: 0)) { try engine.tokens(forIDs: []) }
        let long = String(repeating: "word ", count: 600)
        #expect(throws: EmbeddingError.tooLong(index: 1, tokens: 602, limit: 512)) {
            try engine.tokens(for: long, index: 1)
        }
        #expect(throws: EmbeddingError.tokenOutOfRange(index: 2, token: 30522, vocabularySize: 30522)) {
            try engine.tokens(forIDs: [101, 30522], index: 2)
        }
        #expect(throws: EmbeddingError.tokenOutOfRange(index: 0, token: -1, vocabularySize: 30522)) {
            try engine.tokens(forIDs: [-1])
        }
        // The longest input the model takes is encoded (every position embedding is used).
        let longest = try engine.tokens(forIDs: [Int](repeating: 2000, count: 510))
        #expect(longest.count == 512)
        let vector = engine.embed([longest])[0]
        #expect(vector.count == 384 && vector.allSatisfy(\.isFinite))
        // Token ids and the same text give the same vector.
        let text = try engine.tokens(for: "hello world")
        let ids = try engine.tokens(forIDs: text.dropFirst().dropLast().map { Int($0) })
        #expect(engine.embed([ids]) == engine.embed([text]))
    }

    /// The GELU table equals ggml's (checked against libggml-cpu's own table when the fixture was made); here:
    /// its fixed points and cut-offs.
    @Test func geluFollowsGgmlsTable() {
        let x: [Float] = [-20, -10, -9.99, -1, -0.0, 0, 0.5, 1, 3, 9.99, 10, 25]
        var out = [Float](repeating: .nan, count: x.count)
        agora_gelu(x, &out, Int32(x.count))
        #expect(out[0] == 0 && out[1] == 0 && out[10] == 10 && out[11] == 25)
        #expect(out[4] == 0 && out[5] == 0)
        // 0.5 x (1 + tanh(...)) rounded through half precision.
        #expect(abs(out[7] - 0.8413) < 1e-3 && abs(out[3] + 0.1587) < 1e-3 && abs(out[8] - 2.9964) < 2e-3)
        #expect(out[6] == agora_f16_to_f32(agora_f32_to_f16(out[6])))
    }
}

/// The tinyBLAS-order F32 product and the LayerNorm kernel agree across paths and with their definitions.
@Suite("encoder kernels")
struct EncoderKernelTests {
    static func random(_ count: Int, seed: UInt64) -> [Float] {
        var random = Xoshiro256StarStar(seed: seed)
        return (0..<count).map { _ in Float(random.next() >> 40) / Float(1 << 24) * 4 - 2 }
    }

    @Test func gemmIsOneEightLaneChainPerOutputOnEveryPath() {
        let rows = 11
        let k = 48
        let columns = 7
        let w = Self.random(rows * k, seed: 1)
        let x = Self.random(columns * k, seed: 2)
        var expected = [Float](repeating: 0, count: rows * columns)
        for c in 0..<columns {
            for r in 0..<rows {
                var lanes = [Float](repeating: 0, count: 8)
                for i in stride(from: 0, to: k, by: 8) {
                    for l in 0..<8 { lanes[l] = lanes[l].addingProduct(w[r * k + i + l], x[c * k + i + l]) }
                }
                expected[c * rows + r] =
                    ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
                    + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]))
            }
        }
        for path in KernelPath.supported {
            var out = [Float](repeating: .nan, count: rows * columns)
            agora_gemm_f32_rows_on(path.cValue, w, Int32(k), 0, Int32(rows), x, k, Int32(columns), &out, rows)
            #expect(out.map(\.bitPattern) == expected.map(\.bitPattern), "\(path)")
            // Any row range gives the same elements.
            var part = [Float](repeating: .nan, count: rows * columns)
            agora_gemm_f32_rows_on(path.cValue, w, Int32(k), 3, 9, x, k, Int32(columns), &part, rows)
            for c in 0..<columns {
                for r in 3..<9 { #expect(part[c * rows + r].bitPattern == expected[c * rows + r].bitPattern) }
            }
        }
    }

    @Test func layerNormMatchesItsDefinitionOnEveryPath() {
        for n in [384, 13] {
            let x = Self.random(n, seed: UInt64(n))
            let w = Self.random(n, seed: 7)
            let b = Self.random(n, seed: 8)
            var results: [[UInt32]] = []
            for path in KernelPath.supported {
                var out = [Float](repeating: .nan, count: n)
                agora_layer_norm_on(path.cValue, x, Int32(n), 1e-12, w, b, &out)
                results.append(out.map(\.bitPattern))
                let mean = x.reduce(0.0) { $0 + Double($1) } / Double(n)
                let variance = x.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n)
                for i in 0..<n {
                    let exact = (Double(x[i]) - mean) / (variance + 1e-12).squareRoot() * Double(w[i]) + Double(b[i])
                    #expect(abs(Double(out[i]) - exact) < 1e-4)
                }
            }
            #expect(Set(results).count == 1)
        }
    }
}
