import Foundation
import Testing

@testable import AgoraInference

@Suite("Chat template")
struct ChatTemplateTests {
    /// The golden prompt of the shared notes: ChatML user "What is the capital of France?" with the
    /// generation prompt, without a system message.
    static let goldenPrompt: [Int32] = [1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198]

    @Test("recognises SmolLM2's ChatML template and its default system message")
    func smolLM2Template() throws {
        let gguf = try TestModel.defaultGGUF()
        let template = try ChatTemplate(gguf: gguf)
        #expect(template.defaultSystemMessage == "You are a helpful AI assistant named SmolLM, trained by Hugging Face")
        let tokenizer = try Tokenizer(gguf: gguf)
        let question = [ChatMessage(role: "user", content: "What is the capital of France?")]

        let bare = ChatTemplate(chatMLWithDefaultSystemMessage: nil)
        #expect(tokenizer.encode(bare.render(question)) == Self.goldenPrompt)

        let rendered = template.render(question)
        #expect(
            rendered == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
                + "<|im_end|>\n<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n")
        let ids = tokenizer.encode(rendered)
        #expect(Array(ids.suffix(Self.goldenPrompt.count)) == Self.goldenPrompt)
        #expect(ids.first == 1)
    }

    @Test("an explicit system message replaces the default; no generation prompt when asked")
    func explicitSystem() throws {
        let template = ChatTemplate(chatMLWithDefaultSystemMessage: "default")
        let messages = [ChatMessage(role: "system", content: "be brief"), ChatMessage(role: "user", content: "hi")]
        #expect(
            template.render(messages, addGenerationPrompt: false)
                == "<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n")
        #expect(template.render([]) == "<|im_start|>assistant\n")
    }

    @Test("matches llama.cpp's prompt ids for every generation fixture")
    func fixturePrompts() throws {
        struct Fixture: Decodable {
            struct Case: Decodable {
                var messages: [ChatMessage]
                var prompt_ids: [Int32]
            }
            var cases: [Case]
        }
        let gguf = try TestModel.defaultGGUF()
        let template = try ChatTemplate(gguf: gguf)
        let tokenizer = try Tokenizer(gguf: gguf)
        let fixture = try TestModel.fixture("generation_q4_1.json", as: Fixture.self)
        #expect(fixture.cases.count >= 20)
        for c in fixture.cases {
            #expect(tokenizer.encode(template.render(c.messages)) == c.prompt_ids)
        }
    }

    @Test("refuses templates that are not ChatML, by description")
    func refusesOthers() {
        let llama3 = "{% for message in messages %}{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>' }}"
        #expect(throws: ChatTemplateError.self) { try ChatTemplate(template: llama3) }
        do {
            _ = try ChatTemplate(template: llama3)
        } catch {
            #expect(error.description.contains("start_header_id"))
        }
        #expect(throws: ChatTemplateError.missingTemplate) {
            try ChatTemplate(gguf: try! open(GGUFBuilder().bytes()))
        }
    }
}
