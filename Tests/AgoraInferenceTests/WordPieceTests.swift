import Foundation
import Testing

@testable import AgoraInference

/// BERT's WordPiece on the real vocabulary of all-MiniLM-L6-v2 (converted by `Scripts/convert_minilm.py`,
/// which `.ci/run` runs once): the ids of 50 varied sentences — accents, casing, CJK, other scripts, emoji,
/// punctuation, numbers, URLs, special-token text, zero-width characters — equal llama.cpp's `llama-tokenize`
/// on the same file (recorded in `Tests/Fixtures/tokenizer_minilm.json`, with [CLS] and [SEP] and special
/// tokens parsed, as `llama-embedding` tokenizes).
@Suite struct WordPieceTests {
    struct Fixture: Decodable {
        struct Case: Decodable {
            var text: String
            var ids: [Int32]
        }
        var cases: [Case]
    }

    @Test func miniLMTokenizationEqualsLlamaCpp() throws {
        let model = try TestModel.defaultModelURL().deletingLastPathComponent()
            .appendingPathComponent("all-MiniLM-L6-v2.gguf")
        try #require(
            FileManager.default.fileExists(atPath: model.path),
            "run Scripts/convert_minilm.py (bash .ci/run does) to make \(model.path)")
        let tokenizer = try Tokenizer(gguf: try GGUFFile(url: model))
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tokenizer_minilm.json")
        let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
        #expect(fixture.cases.count >= 50)
        // llama.cpp puts [CLS] in front of every BERT input and [SEP] at its end.
        let cls = try #require(tokenizer.tokenIDs["[CLS]"])
        let sep = try #require(tokenizer.tokenIDs["[SEP]"])
        for test in fixture.cases {
            let ids = [cls] + tokenizer.encode(test.text, parseSpecial: true) + [sep]
            #expect(ids == test.ids, "\(test.text.debugDescription)")
        }
    }
}
