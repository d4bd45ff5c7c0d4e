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

    /// Template sources as the models' own GGUF files carry them (abridged to their recognisable parts).
    static let llama3Source = """
        {% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' \
        + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + '<|eot_id|>' %}{{ content }}\
        {% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}
        """
    static let llama2Source = """
        {% for message in messages %}{% if message['role'] == 'user' %}{{ bos_token + '[INST] ' + \
        message['content'] + ' [/INST]' }}{% elif message['role'] == 'system' %}{{ '<<SYS>>\n' + \
        message['content'] + '\n<</SYS>>\n\n' }}{% endif %}{% endfor %}
        """

    @Test("recognises Llama 3 and renders it as llama.cpp does")
    func llama3() throws {
        let template = try ChatTemplate(template: Self.llama3Source)
        #expect(template.format == .llama3)
        let text = template.render([
            ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "  Hi there\n"),
        ])
        #expect(
            text == "<|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
                + "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n")
        #expect(
            !template.render([ChatMessage(role: "user", content: "x")], addGenerationPrompt: false).hasSuffix("\n\n"))
    }

    @Test("recognises Llama 2 [INST] and renders system, history and the next turn as llama.cpp does")
    func llama2() throws {
        let template = try ChatTemplate(template: Self.llama2Source)
        #expect(template.format == .llama2)
        let text = template.render([
            ChatMessage(role: "system", content: "You are kind."), ChatMessage(role: "user", content: "Hello"),
            ChatMessage(role: "assistant", content: "Hi!"), ChatMessage(role: "user", content: "How are you?"),
        ])
        #expect(
            text == "[INST] <<SYS>>\nYou are kind.\n<</SYS>>\n\nHello [/INST]Hi!</s><s>[INST] How are you? [/INST]")
        #expect(template.render([ChatMessage(role: "user", content: "Q")]) == "[INST] Q [/INST]")
    }

    /// TinyLlama-1.1B-Chat-v1.0's template: Zephyr's turns, closed by `eos_token`.
    static let tinyLlamaSource = """
        {% for message in messages %}
        {% if message['role'] == 'user' %}
        {{ '<|user|>\n' + message['content'] + eos_token }}
        {% elif message['role'] == 'system' %}
        {{ '<|system|>\n' + message['content'] + eos_token }}
        {% elif message['role'] == 'assistant' %}
        {{ '<|assistant|>\n'  + message['content'] + eos_token }}
        {% endif %}
        {% if loop.last and add_generation_prompt %}
        {{ '<|assistant|>' }}
        {% endif %}
        {% endfor %}
        """

    @Test("recognises TinyLlama's Zephyr-style template; turns end with the model's EOS text")
    func zephyr() throws {
        let template = try ChatTemplate(template: Self.tinyLlamaSource, eosText: "</s>")
        #expect(template.format == .zephyr)
        let messages = [
            ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi"),
            ChatMessage(role: "assistant", content: "Hello."), ChatMessage(role: "user", content: "Bye"),
        ]
        #expect(
            template.render(messages)
                == "<|system|>\nBe brief.</s>\n<|user|>\nHi</s>\n<|assistant|>\nHello.</s>\n<|user|>\nBye</s>\n<|assistant|>\n"
        )
        // llama.cpp's own zephyr form, recognised where the template writes <|endoftext|>.
        let endOfText = "{{ '<|user|>\n' + message['content'] + '<|endoftext|>' }}{{ '<|assistant|>\n' }}"
        let llamaCpp = try ChatTemplate(template: endOfText)
        #expect(
            llamaCpp.render([ChatMessage(role: "user", content: "Q")]) == "<|user|>\nQ<|endoftext|>\n<|assistant|>\n")
        // Named on a model without it: the model's EOS text closes the turns (SmolLM2's is <|im_end|>).
        let named = try ChatTemplate(gguf: try TestModel.defaultGGUF(), override: "zephyr")
        #expect(
            named.render([ChatMessage(role: "user", content: "Q")], addGenerationPrompt: false)
                == "<|user|>\nQ<|im_end|>\n")
    }

    @Test("--chat-template overrides by name; unknown names and unknown templates are refused clearly")
    func overridesAndRefusals() throws {
        let gguf = try TestModel.defaultGGUF()
        let own = try ChatTemplate(gguf: gguf)
        #expect(try ChatTemplate(gguf: gguf, override: "chatml") == own)
        #expect(try ChatTemplate(gguf: gguf, override: "Llama3").format == .llama3)
        #expect(try ChatTemplate(gguf: gguf, override: "llama2").format == .llama2)
        #expect(throws: ChatTemplateError.unknownName("vicuna")) { try ChatTemplate(gguf: gguf, override: "vicuna") }
        let alpaca =
            "{% for message in messages %}### Instruction:\n{{ message['content'] }}\n### Response:{% endfor %}"
        do {
            _ = try ChatTemplate(template: alpaca)
            Issue.record("an unknown template was accepted")
        } catch {
            #expect(error.description.contains("### Instruction"))
            #expect(error.description.contains("chatml, llama2, llama3, zephyr"))
        }
        #expect(throws: ChatTemplateError.missingTemplate) {
            try ChatTemplate(gguf: try! open(GGUFBuilder().bytes()))
        }
        // Without a template in the file, a named format still works.
        #expect(try ChatTemplate(gguf: try! open(GGUFBuilder().bytes()), override: "llama3").format == .llama3)
    }
}
