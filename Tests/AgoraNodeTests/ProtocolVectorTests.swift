import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation
import Testing

@testable import AgoraNode

/// The payment protocol's test vectors (`docs/vectors/payment.json`, described in `docs/protocol.md`):
/// keys and addresses, canonical requests and their input hashes, seeds derived from job ids, vouchers and
/// receipts with their signed bytes and signatures, output hashes and prices — everything a client in another
/// language needs to check its own implementation byte for byte.
///
/// The file is generated from this very code (`AGORA_WRITE_VECTORS=1 swift test --filter ProtocolVectorTests`)
/// and this test fails when the code no longer reproduces it, so the written protocol cannot drift from the
/// implementation. Ed25519 signatures are deterministic, so signatures are vectors too.
@Suite struct ProtocolVectorTests {
    struct KeyVector: Codable, Equatable {
        var label: String
        var seed: String
        var publicKey: String
        var address: String
    }

    struct RequestVector: Codable, Equatable {
        var name: String
        var endpoint: String
        /// The request body as the client sends it.
        var body: String
        var modelHash: String
        var jobId: String
        /// The seed the node uses when the body names none: the first 8 bytes of the job id, big-endian.
        var derivedSeed: UInt64
        /// The normalized request's canonical bytes (what the input hash commits to).
        var canonicalRequest: String
        var inputHash: String
    }

    struct SignedVector: Codable, Equatable {
        var name: String
        /// The object as it travels in JSON.
        var json: String
        var signingBytes: String
        var signature: String
    }

    struct OutputVector: Codable, Equatable {
        var text: String
        var outputHash: String
    }

    /// An answer of several choices or with log-probabilities, as the `choices` of a response carry it
    /// (`text` and `logprobs.content`), and its output hash (§8.3, `agora-output-v2`).
    struct ChoiceOutputVector: Codable, Equatable {
        struct Entry: Codable, Equatable {
            struct Alternative: Codable, Equatable {
                var bytes: [UInt8]
                var logprob: Float
            }
            var bytes: [UInt8]
            var logprob: Float
            var top_logprobs: [Alternative]
        }
        struct Choice: Codable, Equatable {
            var text: String
            var logprobs: [Entry]?
        }
        var name: String
        var choices: [Choice]
        var outputHash: String

        init(name: String, choices: [Choice]) {
            self.name = name
            self.choices = choices
            let outcome = CompletionOutcome(
                choices: choices.map { choice in
                    ChoiceOutcome(
                        text: choice.text, completionTokens: 0, finishReason: "stop",
                        logprobs: choice.logprobs?.map { entry in
                            OutputLogprob(
                                token: 0, bytes: entry.bytes, logprob: entry.logprob,
                                top: entry.top_logprobs.map { .init(token: 0, bytes: $0.bytes, logprob: $0.logprob) })
                        })
                }, promptTokens: 0)
            outputHash = outcome.outputHash.hex
        }
    }

    /// An embeddings answer's vectors (each its little-endian float32 bytes, hex) and their output hash.
    struct EmbeddingOutputVector: Codable, Equatable {
        var name: String
        var vectors: [String]
        var outputHash: String

        init(name: String, vectors: [[Float]]) {
            self.name = name
            self.vectors = vectors.map { Hex.encode(Array(EmbeddingsAPI.bytes($0))) }
            outputHash = ReceiptVerifier.embeddingsHash(vectors).hex
        }
    }

    struct PriceVector: Codable, Equatable {
        var perInputToken: UInt64
        var perOutputToken: UInt64
        var inputTokens: Int
        var outputTokens: Int
        var cost: UInt64
    }

    /// A sealed request and its sealed answer (§9). Sealing is randomized (the ephemeral key, the answer's
    /// nonce), so these bytes are recorded once and then checked by opening them, which is deterministic.
    struct SealedVector: Codable, Equatable {
        var name: String
        var nodeSeed: String
        var nodeHPKEPublicKey: String
        var encapsulatedKey: String
        var request: String
        var sealedRequest: String
        var responseKey: String
        var response: String
        var sealedResponse: String
    }

    struct Vectors: Codable, Equatable {
        var version: Int
        var keys: [KeyVector]
        var requests: [RequestVector]
        var vouchers: [SignedVector]
        var receipts: [SignedVector]
        var outputs: [OutputVector]
        var choiceOutputs: [ChoiceOutputVector]
        var embeddingOutputs: [EmbeddingOutputVector]?
        var prices: [PriceVector]
        var sealed: [SealedVector]
    }

    static var file: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/vectors/payment.json")
    }

    static func json(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    /// Seals a request and its answer with the code, for recording.
    static func sealedVector(node: SigningKey) throws -> SealedVector {
        let request = #"{"messages":[{"role":"user","content":"A secret question."}],"max_tokens":8}"#
        let response = #"{"choices":[{"message":{"content":"A secret answer."}}]}"#
        let nodeKey = BodyEncryption.nodeKey(for: node)
        let sealed = try BodyEncryption.sealRequest(Data(request.utf8), to: nodeKey.publicKey)
        let answer = BodyEncryption.sealResponse(Data(response.utf8), key: sealed.responseKey)
        return SealedVector(
            name: "a chat request sealed to vector-node, and its answer", nodeSeed: Hex.encode(node.seed),
            nodeHPKEPublicKey: nodeKey.publicKey.rawRepresentation.base64EncodedString(),
            encapsulatedKey: sealed.encapsulatedKey, request: request,
            sealedRequest: sealed.ciphertext.base64EncodedString(),
            responseKey: sealed.responseKey.withUnsafeBytes { Hex.encode(Array($0)) }, response: response,
            sealedResponse: answer.base64EncodedString())
    }

    /// Builds every vector from the code; sealed bodies are taken from `recorded` unless recording anew.
    static func make(recorded: Vectors?) throws -> Vectors {
        let payer = SigningKey(deterministicLabel: "vector-payer")
        let node = SigningKey(deterministicLabel: "vector-node")
        let keys = [("vector-payer", payer), ("vector-node", node)].map { label, key in
            KeyVector(
                label: label, seed: Hex.encode(key.seed), publicKey: Hex.encode(key.publicKey.bytes),
                address: key.address.description)
        }
        let modelHash = Hash256.tagged("vector-model", [UInt8]())
        let limits = RequestLimits()

        var requests: [RequestVector] = []
        func add(_ name: String, endpoint: String, body: String, job: Int) throws {
            let jobID = Hash256.tagged("vector-job", [UInt8(job)])
            let seed = JobRequest.seed(forJob: jobID)
            let data = Data(body.utf8)
            let request: JobRequest
            if endpoint == "/v1/chat/completions" {
                request = try limits.job(from: ChatCompletionRequest.decode(data), chosenSeed: seed)
            } else if endpoint == "/v1/embeddings" {
                request = try EmbeddingsAPI.request(data, dimensions: 384).job
            } else {
                request = try limits.job(
                    from: JSONDecoder().decode(TextCompletionRequest.self, from: data), chosenSeed: seed)
            }
            requests.append(
                RequestVector(
                    name: name, endpoint: endpoint, body: body, modelHash: modelHash.hex, jobId: jobID.hex,
                    derivedSeed: seed, canonicalRequest: Hex.encode(request.canonicalBytes),
                    inputHash: request.inputHash(modelHash: modelHash).hex))
        }
        try add(
            "chat, defaults (seed derived from the job id)", endpoint: "/v1/chat/completions",
            body: #"{"messages":[{"role":"user","content":"What is the capital of France?"}]}"#, job: 1)
        try add(
            "chat, every sampling field", endpoint: "/v1/chat/completions",
            body:
                #"{"model":"SmolLM2-135M-Instruct","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Name a colour: ünïcode ✓"}],"max_tokens":32,"temperature":0.7,"top_p":0.9,"top_k":40,"seed":12345,"stop":["\n\n","END"]}"#,
            job: 2)
        try add(
            "completion, stop as a string", endpoint: "/v1/completions",
            body: #"{"prompt":"Once upon a time","max_tokens":16,"temperature":0,"stop":"."}"#, job: 3)
        try add(
            "chat, choices, log-probabilities and every sampling control", endpoint: "/v1/chat/completions",
            body:
                #"{"messages":[{"role":"user","content":"Hi"}],"max_tokens":8,"n":3,"logprobs":true,"top_logprobs":2,"min_p":0.05,"repetition_penalty":1.1,"presence_penalty":0.5,"frequency_penalty":-0.25,"logit_bias":{"200":-100,"13":2.5,"7":0}}"#,
            job: 4)
        try add(
            "completion, logprobs as a number, controls at their neutral values", endpoint: "/v1/completions",
            body:
                #"{"prompt":"Once upon a time","max_tokens":4,"logprobs":0,"n":1,"presence_penalty":0,"frequency_penalty":-0.0,"min_p":0,"repetition_penalty":1,"seed":9}"#,
            job: 5)
        try add(
            "chat, json_schema response format (members kept in the order written)", endpoint: "/v1/chat/completions",
            body:
                #"{"messages":[{"role":"user","content":"A city?"}],"max_tokens":40,"temperature":0,"response_format":{"type":"json_schema","json_schema":{"name":"place","strict":true,"schema":{"type":"object","properties":{"city":{"type":"string"},"ünï":{"enum":[1,2.5,"x\"y"]}},"required":["city"],"additionalProperties":false}}}}"#,
            job: 6)
        try add(
            "chat, json_object response format", endpoint: "/v1/chat/completions",
            body: #"{"messages":[{"role":"user","content":"JSON please"}],"response_format":{"type":"json_object"}}"#,
            job: 7)
        try add(
            "chat, tools, a call and its result", endpoint: "/v1/chat/completions",
            body:
                #"{"messages":[{"role":"user","content":"Weather?"},{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"get_weather","arguments":"{\"city\": \"Paris\"}"}}]},{"role":"tool","tool_call_id":"call_1","content":"21 C"}],"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather","parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]},"strict":true}},{"type":"function","function":{"name":"noop"}}],"tool_choice":{"type":"function","function":{"name":"noop"}},"parallel_tool_calls":false,"max_tokens":16}"#,
            job: 8)
        try add(
            "embeddings, one text", endpoint: "/v1/embeddings",
            body: #"{"model":"all-MiniLM-L6-v2","input":"The capital of France is Paris."}"#, job: 9)
        try add(
            "embeddings, texts and token ids, base64", endpoint: "/v1/embeddings",
            body: #"{"input":["ünïcode ✓",[7592,2088]],"encoding_format":"base64","dimensions":384}"#, job: 10)

        let first = requests[0]
        let voucher = Voucher(
            chainID: "agora-demo", payer: payer.publicKey, payee: node.publicKey,
            jobID: try #require(Hash256(hex: first.jobId)), modelHash: modelHash,
            inputHash: try #require(Hash256(hex: first.inputHash)), maxAmount: Amount(microUnits: 2_560),
            expiry: 1_767_225_600
        ).signed(by: payer)
        let text = "The capital of France is Paris."
        let receipt = JobReceipt(
            chainID: "agora-demo", jobID: voucher.jobID, node: node.publicKey, payer: payer.publicKey,
            modelHash: modelHash, inputHash: voucher.inputHash, outputHash: ReceiptVerifier.outputHash(text),
            inputTokens: 16, outputTokens: 8, amount: Amount(microUnits: 16 * 5 + 8 * 20), seed: first.derivedSeed,
            engineVersion: "agora-0.3.0/k3", timestamp: 1_767_225_312_345
        ).signed(by: node)

        let outputs = [text, "", "ünïcode ✓ and a newline\n", "🙂"].map {
            OutputVector(text: $0, outputHash: ReceiptVerifier.outputHash($0).hex)
        }
        let entry = ChoiceOutputVector.Entry(
            bytes: Array(" Paris".utf8), logprob: -0.125,
            top_logprobs: [
                .init(bytes: Array(" Paris".utf8), logprob: -0.125), .init(bytes: [0xF0, 0x9F], logprob: -3.5),
            ])
        let choiceOutputs = [
            ChoiceOutputVector(name: "two choices, no logprobs", choices: [.init(text: "Paris."), .init(text: "")]),
            ChoiceOutputVector(
                name: "one choice with logprobs", choices: [.init(text: " Paris", logprobs: [entry])]),
            ChoiceOutputVector(
                name: "logprobs asked for, no token listed, and a second choice",
                choices: [.init(text: "", logprobs: []), .init(text: " Paris", logprobs: [entry])]),
        ]
        let embeddingOutputs = [
            EmbeddingOutputVector(name: "one vector", vectors: [[0.5, -0.25, 0, -0.0, 1e-8, .leastNonzeroMagnitude]]),
            EmbeddingOutputVector(name: "two vectors of different widths", vectors: [[1, 2, 3], [-1]]),
            EmbeddingOutputVector(name: "no vector", vectors: []),
        ]
        let prices = [(5, 20, 16, 8), (1, 2, 0, 0), (0, 3, 100, 512)].map { input, output, tokensIn, tokensOut in
            PriceVector(
                perInputToken: UInt64(input), perOutputToken: UInt64(output), inputTokens: tokensIn,
                outputTokens: tokensOut,
                cost: NodePrices(
                    perInputToken: Amount(microUnits: UInt64(input)), perOutputToken: Amount(microUnits: UInt64(output))
                ).cost(inputTokens: tokensIn, outputTokens: tokensOut)!.microUnits)
        }
        return Vectors(
            version: 1, keys: keys, requests: requests,
            vouchers: [
                SignedVector(
                    name: "voucher for the first request", json: try json(voucher),
                    signingBytes: Hex.encode(voucher.signingBytes), signature: Hex.encode(voucher.signature.bytes))
            ],
            receipts: [
                SignedVector(
                    name: "receipt for that voucher", json: try json(receipt),
                    signingBytes: Hex.encode(receipt.signingBytes), signature: Hex.encode(receipt.signature.bytes))
            ], outputs: outputs, choiceOutputs: choiceOutputs, embeddingOutputs: embeddingOutputs, prices: prices,
            sealed: try recorded?.sealed ?? [sealedVector(node: node)])
    }

    @Test func theCodeReproducesTheVectorsByteForByte() throws {
        let writing = ProcessInfo.processInfo.environment["AGORA_WRITE_VECTORS"] != nil
        let previous = try? JSONDecoder().decode(Vectors.self, from: Data(contentsOf: Self.file))
        let vectors = try Self.make(recorded: previous)
        if writing {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            try FileManager.default.createDirectory(
                at: Self.file.deletingLastPathComponent(), withIntermediateDirectories: true)
            try (encoder.encode(vectors) + Data("\n".utf8)).write(to: Self.file)
        }
        let recorded = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: Self.file))
        #expect(recorded.keys == vectors.keys)
        #expect(recorded.requests == vectors.requests)
        #expect(recorded.vouchers == vectors.vouchers)
        #expect(recorded.receipts == vectors.receipts)
        #expect(recorded.outputs == vectors.outputs)
        #expect(recorded.choiceOutputs == vectors.choiceOutputs)
        #expect(recorded.embeddingOutputs == vectors.embeddingOutputs)
        #expect(recorded.prices == vectors.prices)
        #expect(recorded == vectors)
    }

    /// The recorded sealed bodies open with the code: the node key derived from the seed, the request's
    /// plaintext, the exported answer key, and the answer's plaintext.
    @Test func theSealedVectorsOpen() throws {
        let recorded = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: Self.file))
        #expect(!recorded.sealed.isEmpty)
        for vector in recorded.sealed {
            let node = try SigningKey(seed: try #require(Hex.decode(vector.nodeSeed)))
            let nodeKey = BodyEncryption.nodeKey(for: node)
            #expect(nodeKey.publicKey.rawRepresentation.base64EncodedString() == vector.nodeHPKEPublicKey)
            let opened = try BodyEncryption.openRequest(
                try #require(Data(base64Encoded: vector.sealedRequest)), encapsulatedKey: vector.encapsulatedKey,
                nodeKey: nodeKey)
            #expect(String(decoding: opened.plaintext, as: UTF8.self) == vector.request)
            #expect(opened.responseKey.withUnsafeBytes { Hex.encode(Array($0)) } == vector.responseKey)
            let answer = try BodyEncryption.openResponse(
                try #require(Data(base64Encoded: vector.sealedResponse)), key: opened.responseKey)
            #expect(String(decoding: answer, as: UTF8.self) == vector.response)
            // A flipped bit anywhere is refused.
            var tampered = try #require(Data(base64Encoded: vector.sealedRequest))
            tampered[tampered.startIndex] ^= 1
            #expect(throws: BodyEncryption.Failure.cannotOpen) {
                _ = try BodyEncryption.openRequest(tampered, encapsulatedKey: vector.encapsulatedKey, nodeKey: nodeKey)
            }
        }
    }

    /// The recorded objects verify as a third party would check them: signatures over the recorded bytes with
    /// the recorded public keys, and the JSON decodes back to the same signed bytes.
    @Test func theRecordedSignaturesVerify() throws {
        let recorded = try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: Self.file))
        let voucher = try JSONDecoder().decode(Voucher.self, from: Data(recorded.vouchers[0].json.utf8))
        #expect(Hex.encode(voucher.signingBytes) == recorded.vouchers[0].signingBytes)
        #expect(voucher.hasValidSignature)
        let receipt = try JSONDecoder().decode(JobReceipt.self, from: Data(recorded.receipts[0].json.utf8))
        #expect(Hex.encode(receipt.signingBytes) == recorded.receipts[0].signingBytes)
        #expect(receipt.hasValidSignature)
        #expect(throws: Never.self) {
            try ReceiptVerifier.verify(receipt, voucher: voucher, output: recorded.outputs[0].text)
        }
        for key in recorded.keys {
            let signingKey = try SigningKey(seed: try #require(Hex.decode(key.seed)))
            #expect(signingKey.address.description == key.address)
            #expect(Hex.encode(signingKey.publicKey.bytes) == key.publicKey)
        }
    }

    /// A second implementation, in Python and written from `docs/protocol.md` alone (the package
    /// `clients/python`, stdlib + `cryptography`), reproduces every vector: addresses, canonical requests and
    /// input hashes, derived seeds, voucher and receipt signing bytes and their Ed25519 signatures, output
    /// hashes, prices, and it opens the sealed bodies. So the document is enough to implement a payer from.
    @Test func anIndependentPythonImplementationAgrees() async throws {
        let (status, text) = try await PythonPackage.runTests("test_vectors.py", environment: [:])
        #expect(status == 0, "\(text)")
        #expect(text.contains("OK"), "\(text)")
        #expect(!text.contains("skipped"), "\(text)")
    }
}

/// Runs the tests of the Python package `clients/python` (unittest, from the source tree).
enum PythonPackage {
    static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
    }

    static func runTests(_ pattern: String, environment: [String: String]) async throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-m", "unittest", "discover", "-v", "-s",
            root.appendingPathComponent("clients/python/tests").path,
            "-t", root.appendingPathComponent("clients/python").path, "-p", pattern,
        ]
        var merged = ProcessInfo.processInfo.environment.merging(environment) { _, new in new }
        merged["PYTHONPATH"] = root.appendingPathComponent("clients/python").path
        merged["AGORA_VECTORS"] = root.appendingPathComponent("docs/vectors/payment.json").path
        process.environment = merged
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        return try await offCooperativePool {
            try process.run()
            let data = output.fileHandleForReading.readDataToEndOfFile()
            process.waitUntilExit()
            return (process.terminationStatus, String(decoding: data, as: UTF8.self))
        }
    }
}
