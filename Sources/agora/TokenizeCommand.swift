import AgoraInference
import ArgumentParser
import Foundation

/// `agora tokenize [--model PATH] "text"`: the token ids of a text, as a JSON array on stdout.
///
/// Special tokens written in the text (`<|im_start|>`) become those tokens, as in a prompt; `--add-bos` puts the
/// model's BOS token first as a prompt gets it (when the vocabulary asks for one).
/// Handy for checking prompts and for comparing with llama.cpp's `llama-tokenize`.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text as a JSON array."
    )

    @Option(name: .long, help: "A GGUF model file (default: the default model, fetched on first use).")
    var model: String?

    @Flag(name: .long, help: "Tokenize special-token text (<|im_start|>…) as plain text.")
    var noParseSpecial = false

    @Flag(name: .long, help: "Put the BOS token first when the model's vocabulary asks for one, as prompts get it.")
    var addBos = false

    @Argument(help: "The text to tokenize.")
    var text: String

    func run() throws {
        let url: URL
        if let model {
            url = URL(fileURLWithPath: model)
        } else {
            do {
                url = try ModelStore().modelURL(.smolLM2) { event in
                    switch event {
                    case .downloading(let line): printError("[model] \(line)")
                    case .extracting(let member): printError("[model] extracting \(member)")
                    case .verifying, .ready: break
                    }
                }
            } catch {
                throw ValidationError("cannot get the default model: \(error)")
            }
        }
        let tokenizer: Tokenizer
        do {
            tokenizer = try Tokenizer(gguf: try GGUFFile(url: url))
        } catch {
            throw ValidationError("\(url.path): \(error)")
        }
        var ids = tokenizer.encode(text, parseSpecial: !noParseSpecial)
        if addBos, tokenizer.addsBOS, tokenizer.bosToken >= 0, ids.first != tokenizer.bosToken {
            ids.insert(tokenizer.bosToken, at: 0)
        }
        print("[" + ids.map(String.init).joined(separator: ",") + "]")
    }
}
