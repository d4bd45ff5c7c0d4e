import Foundation
import Testing

@testable import AgoraInference

/// llama.cpp's own tokenizer tests (`test-tokenizer-0`) on its vocab-only GGUF files: each `.inp` text must
/// give exactly the ids of the `.out` line (llama.cpp's ids, made from the Hugging Face tokenizers), with
/// `add_special` off and special tokens not parsed, as that test tokenizes them.
///
/// The files come from the `llama-cpp-python` 0.3.36 sdist on PyPI (vendor/llama.cpp/models); `.ci/run`
/// extracts them into `<model cache>/llama.cpp-vocab/`. They are llama.cpp's, so they are not committed.
@Suite("llama.cpp vocabulary tests")
struct LlamaCppVocabularyTests {
    /// SentencePiece (Llama 2 / TinyLlama, Phi-3) and the byte-level BPE pre-tokenizers Agora implements.
    static let vocabularies = ["llama-spm", "phi-3", "llama-bpe", "qwen2", "gpt-2", "starcoder", "bert-bge"]

    static func directory() throws -> URL {
        try TestModel.defaultModelURL().deletingLastPathComponent().appendingPathComponent("llama.cpp-vocab")
    }

    static func available(_ name: String) -> Bool {
        guard let directory = try? directory() else { return false }
        return FileManager.default.fileExists(
            atPath: directory.appendingPathComponent("ggml-vocab-\(name).gguf.out").path)
    }

    /// The test cases, parsed as llama.cpp's `read_tests` does: inputs separated by
    /// "\n__ggml_vocab_test__\n", one output line of space-separated ids per input.
    static func cases(_ name: String) throws -> [(text: String, ids: [Int32])] {
        let base = try directory().appendingPathComponent("ggml-vocab-\(name).gguf")
        let input = try String(contentsOf: URL(fileURLWithPath: base.path + ".inp"), encoding: .utf8)
        let output = try String(contentsOf: URL(fileURLWithPath: base.path + ".out"), encoding: .utf8)
        let texts = input.components(separatedBy: "\n__ggml_vocab_test__\n")
        var lines = output.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        let inputs = texts.last == "" ? Array(texts.dropLast()) : texts
        guard inputs.count == lines.count else { throw CocoaError(.fileReadCorruptFile) }
        return zip(inputs, lines).map { text, line in
            (text, line.split(separator: " ").map { Int32($0)! })
        }
    }

    @Test("ids equal llama.cpp's for every test text", arguments: vocabularies)
    func matchesLlamaCpp(vocabulary: String) throws {
        // A vocabulary that is not here is a reported skip, not a case dropped from the list.
        guard Self.available(vocabulary) else {
            try Test.cancel("ggml-vocab-\(vocabulary).gguf is not in the model cache (bash .ci/run extracts it)")
        }
        let url = try Self.directory().appendingPathComponent("ggml-vocab-\(vocabulary).gguf")
        let tokenizer = try Tokenizer(gguf: try GGUFFile(url: url))
        let cases = try Self.cases(vocabulary)
        #expect(cases.count >= 30)
        for (text, ids) in cases {
            #expect(tokenizer.encode(text, parseSpecial: false) == ids, "\(vocabulary): \(text.debugDescription)")
        }
    }

    @Test("SentencePiece: space prefix, byte fallback, BOS, and decoding back to the text")
    func sentencePiece() throws {
        try #require(Self.available("llama-spm"))
        let url = try Self.directory().appendingPathComponent("ggml-vocab-llama-spm.gguf")
        let tokenizer = try Tokenizer(gguf: try GGUFFile(url: url))
        #expect(tokenizer.usesSentencePiece && tokenizer.addsBOS && tokenizer.bosToken == 1)
        #expect(tokenizer.bytesWithoutToken.isEmpty)
        // "▁Hello" "▁world"; a newline has no piece, so it falls back to its byte token <0x0A> (13).
        #expect(tokenizer.encode("Hello world") == [15043, 3186])
        #expect(tokenizer.encode("\n") == [29871, 13])
        #expect(tokenizer.encode("") == [])
        // A prompt gets BOS once; text after a special token gets the space prefix again, as in llama.cpp.
        #expect(tokenizer.encodePrompt("Hello world") == [1, 15043, 3186])
        #expect(tokenizer.encodePrompt("<s>Hello") == tokenizer.encode("<s>Hello"))
        #expect(tokenizer.encode("Hi</s>Hi") == [tokenizer.encode("Hi")[0], 2, tokenizer.encode("Hi")[0]])
        #expect(tokenizer.encode("</s>", parseSpecial: false) != [2])
        // Decoding: "▁" reads as a space and byte tokens as their bytes, so every text comes back with the
        // prefix space in front.
        var texts = try Self.cases("llama-spm").map(\.text)
        texts += ["🦙 llama.cpp\t\u{1}\u{7F} ﬁ", "  two  spaces ", "ä\u{301}"]
        for text in texts where !text.isEmpty {
            let ids = tokenizer.encode(text, parseSpecial: false)
            #expect(ids.flatMap { tokenizer.tokenBytes($0) } == Array((" " + text).utf8), "\(text.debugDescription)")
        }
    }

    @Test("byte-level BPE and SentencePiece vocabularies are told apart by tokenizer.ggml.model")
    func modelFamilies() throws {
        var missing: [String] = []
        for name in Self.vocabularies {
            guard Self.available(name) else {
                missing.append(name)
                continue
            }
            let url = try Self.directory().appendingPathComponent("ggml-vocab-\(name).gguf")
            let tokenizer = try Tokenizer(gguf: try GGUFFile(url: url))
            #expect(tokenizer.usesSentencePiece == (name == "llama-spm" || name == "phi-3"), "\(name)")
        }
        if !missing.isEmpty {
            try Test.cancel("vocabularies not in the model cache: \(missing.joined(separator: ", "))")
        }
    }
}
