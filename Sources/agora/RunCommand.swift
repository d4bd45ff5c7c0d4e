import AgoraInference
import ArgumentParser
import Foundation

/// `agora run "prompt"`: generate locally, streaming only the generated text to stdout.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Generate text with a local model (stdout: the text; stderr: progress and speed)."
    )

    @Option(
        name: .long, help: "GGUF model file (default: the default model, downloaded on first use).")
    var model: String?

    @Option(
        name: .long,
        help: "Sampling seed (default: random, printed on stderr so the run can be repeated).")
    var seed: UInt64?

    @Option(name: .long, help: "Sampling temperature; 0 is greedy.")
    var temperature: Float = 0.8

    @Option(name: .customLong("top-p"), help: "Nucleus sampling threshold; 1 turns it off.")
    var topP: Float = 0.95

    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens; 0 turns it off.")
    var topK: Int = 40

    @Option(name: .customLong("min-p"), help: "Drop tokens below this fraction of the top one's weight; 0 is off.")
    var minP: Float = 0

    @Option(help: "llama.cpp's repeat penalty over the tokens generated so far; 1 is off.")
    var repetitionPenalty: Float = 1

    @Option(help: "Subtracted once from each generated token's logit; 0 is off.")
    var presencePenalty: Float = 0

    @Option(help: "Subtracted from a token's logit per time it was generated; 0 is off.")
    var frequencyPenalty: Float = 0

    @Option(name: .customLong("max-tokens"), help: "Most tokens to generate.")
    var maxTokens: Int = 256

    @Option(name: .long, help: "Compute threads (results do not depend on it).")
    var threads: Int = 2
    @Option(help: "Chat format instead of the one in the model's metadata: chatml, llama2 or llama3.")
    var chatTemplate: String?

    @Option(name: .long, help: "Stop before this text (repeatable).")
    var stop: [String] = []

    @Flag(
        name: .long, help: "Feed the prompt as is instead of as one user message in the chat template.")
    var raw = false

    @Argument(help: "The prompt.")
    var prompt: String

    func run() throws {
        let url = try EngineCommandSupport.modelURL(model)
        let engine = try EngineCommandSupport.loadEngine(
            url, options: EngineOptions(threads: threads, chatTemplate: chatTemplate))
        let seed = seed ?? UInt64.random(in: 0...UInt64(UInt32.max))
        if self.seed == nil { printError("seed: \(seed)") }
        let input: GenerationRequest.Input =
            raw ? .prompt(prompt) : .messages([ChatMessage(role: "user", content: prompt)])
        let sampling = SamplingParameters(
            temperature: temperature, topK: topK, topP: topP, seed: seed, minP: minP,
            repetitionPenalty: repetitionPenalty, presencePenalty: presencePenalty, frequencyPenalty: frequencyPenalty)
        let request = GenerationRequest(
            input: input, maxTokens: maxTokens, sampling: sampling, stop: stop, logprobs: nil)
        let out = FileHandle.standardOutput
        let result: GenerationResult
        do {
            result = try engine.generate(request) { chunk in
                if !chunk.text.isEmpty { out.write(Data(chunk.text.utf8)) }
            }
        } catch {
            throw ValidationError(error.description)
        }
        out.write(Data("\n".utf8))
        let prefill = Double(result.promptTokenCount) / max(result.promptSeconds, 1e-9)
        let decode =
            Double(max(result.completionTokenCount - 1, 0)) / max(result.generationSeconds, 1e-9)
        printError(
            "prompt \(result.promptTokenCount) tokens (\(String(format: "%.1f", prefill)) t/s), generated "
                + "\(result.completionTokenCount) tokens (\(String(format: "%.1f", decode)) t/s), "
                + "finish: \(result.finishReason.rawValue)")
    }
}
