import Foundation
import Testing

@testable import AgoraInference

@Suite("GGUF reader")
struct GGUFFileTests {
    @Test("reads the default model's metadata and tensor table")
    func defaultModelLayout() throws {
        let gguf = try TestModel.defaultGGUF()
        #expect(gguf.version == 3)
        #expect(gguf.alignment == 32)
        #expect(gguf.metadataString("general.architecture") == "llama")
        #expect(gguf.metadataString("tokenizer.ggml.model") == "gpt2")
        #expect(gguf.metadataString("tokenizer.ggml.pre") == "smollm")
        #expect(gguf.metadata["tokenizer.ggml.tokens"]?.asArray?.count == 49_152)
        #expect(gguf.metadata["tokenizer.ggml.merges"]?.asArray?.count == 48_900)
        #expect(gguf.metadataInt("tokenizer.ggml.bos_token_id") == 1)
        #expect(gguf.metadataInt("tokenizer.ggml.eos_token_id") == 2)

        let h = try LlamaHyperparameters(gguf: gguf)
        #expect(h.architecture == "llama")
        #expect(h.blockCount == 30)
        #expect(h.embeddingLength == 576)
        #expect(h.feedForwardLength == 1536)
        #expect(h.headCount == 9)
        #expect(h.headCountKV == 3)
        #expect(h.headDim == 64)
        #expect(h.contextLength == 8192)
        #expect(h.ropeFreqBase == 100_000)
        #expect(h.rmsNormEpsilon == 1e-5)
        #expect(h.vocabularySize == 49_152)

        #expect(gguf.tensors.count == 272)
        #expect(gguf.tensorOrder.count == 272)
        #expect(gguf.tensors["output.weight"] == nil)  // tied embeddings
        let counts = Dictionary(grouping: gguf.tensors.values, by: \.type).mapValues(\.count)
        #expect(counts == [.q4_1: 210, .f32: 61, .q8_0: 1])
        let embedding = try gguf.tensor("token_embd.weight")
        #expect(embedding.dimensions == [576, 49_152])
        #expect(embedding.type == .q8_0)
        #expect(embedding.byteCount == 576 / 32 * 34 * 49_152)
        #expect(gguf.tensors.values.reduce(0) { $0 + $1.elementCount } == 134_515_008)

        // Tensors are aligned, inside the file, and do not overlap.
        let sorted = gguf.tensors.values.sorted { $0.offset < $1.offset }
        var end = gguf.dataOffset
        for info in sorted {
            #expect(info.offset % gguf.alignment == 0)
            #expect(info.offset >= end)
            end = info.offset + info.byteCount
            #expect(gguf.tensorBytes(info).count == info.byteCount)
        }
        #expect(end <= gguf.fileSize)
    }

    @Test("refuses an architecture other than llama by name")
    func refusesOtherArchitectures() throws {
        let bytes = GGUFBuilder(metadata: [("general.architecture", .string("gemma2"))]).bytes()
        let gguf = try open(bytes)
        #expect(throws: GGUFError.unsupportedArchitecture("gemma2")) { try LlamaHyperparameters(gguf: gguf) }
    }

    @Test("reads a synthetic file: values of every type, tensor offsets, alignment")
    func syntheticFile() throws {
        let builder = GGUFBuilder(
            metadata: [
                ("general.alignment", .uint32(64)),
                ("a.u8", .uint8(7)), ("a.i8", .int8(-7)), ("a.u16", .uint16(700)), ("a.i16", .int16(-700)),
                ("a.i32", .int32(-70_000)), ("a.f32", .float32(1.5)), ("a.u64", .uint64(1 << 40)),
                ("a.i64", .int64(-(1 << 40))), ("a.f64", .float64(2.25)), ("a.bool", .bool(true)),
                ("a.str", .string("héllo")), ("a.arr", .array([.string("x"), .string("")])),
                ("a.nested", .array([.array([.int32(1)]), .array([])])),
            ],
            tensors: [
                .init(name: "w", dimensions: [64, 2], type: .q8_0),
                .init(name: "b", dimensions: [3], type: .f32),
            ])
        let bytes = builder.bytes()
        let gguf = try open(bytes)
        #expect(gguf.version == 3)
        #expect(gguf.alignment == 64)
        #expect(gguf.metadataOrder == builder.metadata.map(\.0))
        for (key, value) in builder.metadata { #expect(gguf.metadata[key] == value) }
        #expect(gguf.metadataInt("a.i16") == -700)
        #expect(gguf.metadataFloat("a.f64") == 2.25)
        #expect(gguf.metadataString("a.str") == "héllo")
        #expect(gguf.tensorOrder == ["w", "b"])
        let w = try gguf.tensor("w")
        #expect(w.byteCount == 2 * 2 * 34)
        #expect(w.offset == gguf.dataOffset)
        #expect(gguf.dataOffset % 64 == 0)
        let b = try gguf.tensor("b")
        #expect(b.offset == gguf.dataOffset + 192)  // 136 bytes rounded up to 64
        #expect(Array(gguf.tensorBytes(b)) == Array(bytes[b.offset..<b.offset + 12]))
        #expect(throws: GGUFError.missingTensor("c")) { try gguf.tensor("c") }
    }

    @Test("refuses malformed and hostile headers with the matching typed error")
    func typedErrors() throws {
        func expectError(
            _ bytes: [UInt8], _ matches: (GGUFError) -> Bool, sourceLocation: SourceLocation = #_sourceLocation
        ) {
            do {
                _ = try open(bytes)
                Issue.record("opened a malformed file", sourceLocation: sourceLocation)
            } catch {
                #expect(matches(error), "unexpected \(error)", sourceLocation: sourceLocation)
            }
        }
        let valid = GGUFBuilder(tensors: [.init(name: "t", dimensions: [32], type: .q4_0)]).bytes()
        _ = try open(valid)

        expectError([]) { if case .truncated = $0 { true } else { false } }
        expectError(Array("GGML".utf8) + [3, 0, 0, 0]) { $0 == .notGGUF(magic: 0x4C4D_4747) }
        expectError(GGUFBuilder(version: 1).bytes()) { $0 == .unsupportedVersion(1) }
        expectError(GGUFBuilder(version: 4).bytes()) { $0 == .unsupportedVersion(4) }
        expectError(Array(valid.dropLast())) {
            if case .tensorOutOfBounds(name: "t", _, _, _) = $0 { true } else { false }
        }

        // A count field claiming more entries than the file could hold is refused before any allocation.
        var hugeTensorCount = GGUFBuilder().bytes()
        hugeTensorCount.replaceSubrange(8..<16, with: le(UInt64.max))
        expectError(hugeTensorCount) { if case .countTooLarge = $0 { true } else { false } }
        var hugeArray = GGUFBuilder(metadata: [("k", .array([.uint8(1)]))]).bytes()
        let countAt = 24 + 8 + 1 + 4 + 4  // header, key, value type, element type
        hugeArray.replaceSubrange(countAt..<countAt + 8, with: le(UInt64(1) << 62))
        expectError(hugeArray) { if case .countTooLarge = $0 { true } else { false } }
        var hugeString = GGUFBuilder(metadata: [("k", .string("v"))]).bytes()
        hugeString.replaceSubrange(24 + 8 + 1 + 4..<24 + 8 + 1 + 4 + 8, with: le(UInt64.max - 3))
        expectError(hugeString) { if case .countTooLarge = $0 { true } else { false } }

        expectError(GGUFBuilder(metadata: [("k", .int8(1)), ("k", .int8(2))]).bytes()) { $0 == .duplicateKey("k") }
        expectError(GGUFBuilder(metadata: [("general.alignment", .uint32(48))]).bytes()) {
            if case .invalidAlignment = $0 { true } else { false }
        }
        expectError(GGUFBuilder(metadata: [("general.alignment", .uint32(0))]).bytes()) {
            if case .invalidAlignment = $0 { true } else { false }
        }
        expectError(GGUFBuilder(tensors: [.init(name: "t", dimensions: [32], type: .q4_0, rawType: 4)]).bytes()) {
            $0 == .unknownTensorType(name: "t", raw: 4)
        }
        expectError(GGUFBuilder(tensors: [.init(name: "blk.0.ffn", dimensions: [256], type: .q8_K)]).bytes()) {
            $0 == .unsupportedTensorType(name: "blk.0.ffn", type: .q8_K)
        }
        expectError(GGUFBuilder(tensors: [.init(name: "t", dimensions: [1 << 32, 1 << 32], type: .f32)]).bytes()) {
            if case .invalidTensorShape(name: "t", _) = $0 { true } else { false }
        }
        expectError(GGUFBuilder(tensors: [.init(name: "t", dimensions: [1, 1, 1, 1, 1], type: .f32)]).bytes()) {
            if case .invalidTensorShape(name: "t", _) = $0 { true } else { false }
        }
        expectError(GGUFBuilder(tensors: [.init(name: "t", dimensions: [33], type: .q8_0)]).bytes()) {
            if case .invalidTensorShape(name: "t", _) = $0 { true } else { false }
        }
        expectError(
            GGUFBuilder(tensors: [
                .init(name: "t", dimensions: [8], type: .f32), .init(name: "t", dimensions: [8], type: .f32),
            ]).bytes()
        ) { $0 == .duplicateTensor("t") }
        expectError(GGUFBuilder(tensors: [.init(name: "t", dimensions: [8], type: .f32, offset: 4)]).bytes()) {
            $0 == .misalignedTensor(name: "t", offset: 4, alignment: 32)
        }
        expectError(GGUFBuilder(tensors: [.init(name: "t", dimensions: [8], type: .f32, offset: 1 << 62)]).bytes()) {
            if case .tensorOutOfBounds(name: "t", _, _, _) = $0 { true } else { false }
        }
        var badValueType = GGUFBuilder(metadata: [("k", .int8(1))]).bytes()
        badValueType.replaceSubrange(24 + 8 + 1..<24 + 8 + 1 + 4, with: le(UInt32(13)))
        expectError(badValueType) { $0 == .invalidValueType(raw: 13, key: "k") }
        let deep: GGUFValue = .array([.array([.array([.array([.array([.int8(1)])])])])])
        expectError(GGUFBuilder(metadata: [("k", deep)]).bytes()) { $0 == .nestingTooDeep(key: "k") }
    }

    @Test("opens a file from disk and refuses missing, empty and truncated files")
    func filesOnDisk() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("agora-gguf-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bytes = GGUFBuilder(tensors: [.init(name: "t", dimensions: [4], type: .f32)]).bytes()
        let good = directory.appendingPathComponent("good.gguf")
        try Data(bytes).write(to: good)
        let gguf = try GGUFFile(url: good)
        #expect(gguf.url == good)
        #expect(gguf.fileSize == bytes.count)
        #expect(throws: GGUFError.self) { try GGUFFile(url: directory.appendingPathComponent("missing.gguf")) }
        #expect(throws: GGUFError.self) { try GGUFFile(url: directory) }
        for length in [0, 3, 20, bytes.count - 1] {
            let cut = directory.appendingPathComponent("cut-\(length).gguf")
            try Data(bytes.prefix(length)).write(to: cut)
            #expect(throws: GGUFError.self) { try GGUFFile(url: cut) }
        }
    }
}

/// Opens an in-memory GGUF image, keeping the reader's typed error.
func open(_ bytes: [UInt8]) throws(GGUFError) -> GGUFFile {
    try bytes.withUnsafeBytes { buffer in Result { () throws(GGUFError) in try GGUFFile(bytes: buffer) } }.get()
}

func le<T: FixedWidthInteger>(_ value: T) -> [UInt8] { withUnsafeBytes(of: value.littleEndian) { Array($0) } }
