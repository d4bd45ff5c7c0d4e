import AgoraInference
import ArgumentParser
import Foundation

/// `agora tokenize [--model PATH] "text"`: the token ids of a text, as a JSON array on stdout.
///
/// Special tokens written in the text (`<|im_start|>`) become those tokens, as in a prompt; no BOS is added.
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
        let ids = tokenizer.encode(text, parseSpecial: !noParseSpecial)
        print("[" + ids.map(String.init).joined(separator: ",") + "]")
    }
}
