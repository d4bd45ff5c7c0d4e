import Foundation
import Testing

@testable import AgoraInference

@Suite("Tokenizer")
struct TokenizerTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var text: String
            var ids: [Int32]
        }
        var add_special: Bool
        var parse_special: Bool
        var cases: [Case]
    }

    static let tokenizer: Result<Tokenizer, any Error> = Result { try Tokenizer(gguf: try TestModel.defaultGGUF()) }

    @Test("matches llama.cpp's ids for every fixture string")
    func matchesLlamaCpp() throws {
        let tokenizer = try Self.tokenizer.get()
        let fixture = try TestModel.fixture("tokenizer_smollm2.json", as: Fixture.self)
        #expect(fixture.cases.count >= 300)
        #expect(!fixture.add_special && fixture.parse_special)
        for c in fixture.cases {
            #expect(tokenizer.encode(c.text, parseSpecial: true) == c.ids, "\(c.text.debugDescription)")
        }
    }

    @Test("decode(encode(text)) == text, with and without special-token parsing")
    func roundTrip() throws {
        let tokenizer = try Self.tokenizer.get()
        let fixture = try TestModel.fixture("tokenizer_smollm2.json", as: Fixture.self)
        // SmolLM2's vocabulary has no token for these bytes; llama.cpp drops them too (see the fixture).
        let missing = Set(tokenizer.bytesWithoutToken)
        #expect(
            missing == [
                0x04, 0x06, 0x13, 0x14, 0x16, 0x1D, 0xC0, 0xC1, 0xF1, 0xF2, 0xF5, 0xF6, 0xF7, 0xF8, 0xF9, 0xFA, 0xFB,
                0xFC, 0xFD, 0xFE, 0xFF,
            ])
        var random = SplitMix64(seed: 99)
        var texts = fixture.cases.map(\.text)
        // Random scalars from every plane, including combining marks, controls and unassigned code points.
        for _ in 0..<300 {
            var text = String.UnicodeScalarView()
            for _ in 0..<random.next(below: 40) {
                let upper = [0x80, 0x800, 0x10000, 0x110000][random.next(below: 4)]
                if let scalar = Unicode.Scalar(UInt32(random.next(below: upper))) { text.append(scalar) }
            }
            texts.append(String(text))
        }
        var lossless = 0
        for text in texts {
            let utf8 = Array(text.utf8)
            // Streaming: the tokens' bytes are the text's UTF-8, less the bytes without a token.
            let expected = utf8.filter { !missing.contains($0) }
            #expect(tokenizer.encode(text).flatMap { tokenizer.tokenBytes($0) } == expected, "\(text.debugDescription)")
            #expect(tokenizer.encode(text, parseSpecial: false).flatMap { tokenizer.tokenBytes($0) } == expected)
            guard expected.count == utf8.count else { continue }
            lossless += 1
            // Compared as bytes: String's == would accept canonically equivalent text.
            #expect(Array(tokenizer.decode(tokenizer.encode(text)).utf8) == utf8, "\(text.debugDescription)")
            #expect(Array(tokenizer.decode(tokenizer.encode(text, parseSpecial: false)).utf8) == utf8)
        }
        #expect(lossless >= 400)
    }

    @Test("special tokens: matched as whole tokens only when parsing is on; ids and end-of-generation")
    func specialTokens() throws {
        let tokenizer = try Self.tokenizer.get()
        #expect(tokenizer.vocabularySize == 49_152)
        #expect(tokenizer.bosToken == 1)
        #expect(tokenizer.eosToken == 2)
        #expect(!tokenizer.addsBOS)
        #expect(tokenizer.encode("<|im_start|>") == [1])
        #expect(tokenizer.encode("<|im_start|>", parseSpecial: false).count > 1)
        #expect(tokenizer.isEndOfGeneration(2))  // <|im_end|>
        #expect(tokenizer.isEndOfGeneration(0))  // <|endoftext|>
        #expect(!tokenizer.isEndOfGeneration(1))
        #expect(!tokenizer.isEndOfGeneration(504))
        #expect(tokenizer.tokenBytes(2) == Array("<|im_end|>".utf8))
        #expect(tokenizer.decode([504, 3575, 2], renderSpecial: false) == "The capital")
        #expect(tokenizer.tokenBytes(-1).isEmpty && tokenizer.tokenBytes(49_152).isEmpty)
        #expect(tokenizer.isControl(1) && !tokenizer.isControl(504))
    }

    @Test("numbers are split digit by digit (smollm pre-tokenizer)")
    func digits() throws {
        let tokenizer = try Self.tokenizer.get()
        let ids = tokenizer.encode("12345")
        #expect(ids.count == 5)
        #expect(ids.map { tokenizer.decode([$0]) } == ["1", "2", "3", "4", "5"])
    }

    @Test("encodes 100 KB of mixed text in well under a second, linearly")
    func speed() throws {
        let tokenizer = try Self.tokenizer.get()
        let fixture = try TestModel.fixture("tokenizer_smollm2.json", as: Fixture.self)
        let sample = fixture.cases.map(\.text).joined(separator: " ")
        let text = String(repeating: sample, count: max(1, 100_000 / sample.utf8.count))
        _ = tokenizer.encode(sample)
        let clock = ContinuousClock()
        let elapsed = clock.measure { _ = tokenizer.encode(text) }
        #expect(elapsed < .seconds(1), "100 KB took \(elapsed)")
        // A single 200 KB word (no pre-tokenizer split) must not be quadratic either.
        let long = String(repeating: "ab", count: 100_000)
        let longElapsed = clock.measure { _ = tokenizer.encode(long) }
        #expect(longElapsed < .seconds(2), "a 200 KB word took \(longElapsed)")
    }

    @Test("refuses tokenizers it does not implement, by name")
    func refusals() throws {
        func tokenizer(_ metadata: [(String, GGUFValue)]) throws(TokenizerError) -> Tokenizer {
            let gguf = try! open(GGUFBuilder(metadata: metadata).bytes())
            return try Tokenizer(gguf: gguf)
        }
        let tokens: (String, GGUFValue) = ("tokenizer.ggml.tokens", .array([.string("a"), .string("b")]))
        #expect(throws: TokenizerError.unsupportedModel("t5")) {
            try tokenizer([("tokenizer.ggml.model", .string("t5")), tokens])
        }
        // SentencePiece scores must be one number per token.
        #expect(throws: TokenizerError.invalidMetadata(key: "tokenizer.ggml.scores", reason: "1 scores for 2 tokens")) {
            try tokenizer([
                ("tokenizer.ggml.model", .string("llama")), tokens, ("tokenizer.ggml.scores", .array([.float32(0)])),
            ])
        }
        #expect(throws: TokenizerError.invalidMetadata(key: "tokenizer.ggml.scores", reason: "not numbers")) {
            try tokenizer([
                ("tokenizer.ggml.model", .string("llama")), tokens,
                ("tokenizer.ggml.scores", .array([.string("x"), .string("y")])),
            ])
        }
        #expect(throws: TokenizerError.unsupportedPreTokenizer("tekken")) {
            try tokenizer([
                ("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("tekken")), tokens,
            ])
        }
        #expect(throws: TokenizerError.missingMetadata(key: "tokenizer.ggml.tokens")) {
            try tokenizer([("tokenizer.ggml.model", .string("gpt2"))])
        }
        #expect(throws: TokenizerError.self) {
            try tokenizer([
                ("tokenizer.ggml.model", .string("gpt2")), tokens, ("tokenizer.ggml.eos_token_id", .uint32(7)),
            ])
        }
        #expect(throws: TokenizerError.self) {
            try tokenizer([
                ("tokenizer.ggml.model", .string("gpt2")), tokens, ("tokenizer.ggml.token_type", .array([.int32(1)])),
            ])
        }
    }

    @Test("pre-tokenizer scanners split as the llama.cpp regexes do")
    func preTokenizers() {
        func words(_ text: String, _ pre: PreTokenizer) -> [String] {
            let scalars = text.unicodeScalars.map(\.value)
            let classes = scalars.map(ScalarClass.of)
            var result: [String] = []
            pre.split(scalars, classes) { range in
                var view = String.UnicodeScalarView()
                for v in scalars[range] { view.append(Unicode.Scalar(v)!) }
                result.append(String(view))
            }
            return result
        }
        #expect(words("Hello world's 123  end", .gpt2) == ["Hello", " world", "'s", " 123", " ", " end"])
        #expect(words("a 12", .smollm) == ["a", " ", "1", "2"])
        #expect(words("x1234567 DON'T\n\nok", .llama3) == ["x", "123", "456", "7", " DON", "'T", "\n\n", "ok"])
        #expect(words("x1234 ok", .qwen2) == ["x", "1", "2", "3", "4", " ok"])
        #expect(words("  \t", .gpt2) == ["  \t"])
        #expect(words("", .smollm).isEmpty)
    }
}
