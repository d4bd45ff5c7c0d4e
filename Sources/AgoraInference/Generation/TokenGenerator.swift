import Foundation

/// The generation loop of one request on its own `LlamaState`: prefill, then sample → stream → evaluate
/// until a stop condition. The engine serves through `BatchScheduler`; this loop is the one-sequence
/// reference it is tested against (and what a tool holding a bare state uses).
struct TokenGenerator {
    let state: LlamaState
    let tokenizer: Tokenizer
    /// Polled between tokens; true ends generation early (finish reason `.cancelled`).
    var shouldStop: () -> Bool = { false }

    init(state: LlamaState, tokenizer: Tokenizer) {
        self.state = state
        self.tokenizer = tokenizer
    }

    mutating func run(
        prompt: [Int32], request: GenerationRequest, onChunk: (GenerationChunk) -> Void
    ) throws(GenerationError) -> GenerationResult {
        try SequenceSampler.validate(
            prompt: prompt, request: request, contextLength: state.model.contextLength,
            vocabularySize: state.model.vocabularySize)
        let start = DispatchTime.now().uptimeNanoseconds
        state.reset()
        var logits: UnsafeBufferPointer<Float>
        do { logits = try state.evaluate(prompt) } catch { throw .inference(error) }
        let prefilled = DispatchTime.now().uptimeNanoseconds

        var sequence = SequenceSampler(request: request, tokenizer: tokenizer)
        var finish = FinishReason.length
        loop: while true {
            switch sequence.next(logits, shouldStop: shouldStop, onChunk: onChunk) {
            case .finished(let reason):
                finish = reason
                break loop
            case .feed(let token):
                do { logits = try state.evaluate([token]) } catch { throw .inference(error) }
            }
        }
        let end = DispatchTime.now().uptimeNanoseconds
        return GenerationResult(
            tokens: sequence.tokens, text: sequence.text, promptTokenCount: prompt.count, finishReason: finish,
            promptSeconds: Double(prefilled - start) / 1e9, generationSeconds: Double(end - prefilled) / 1e9,
            logprobs: sequence.tokenLogprobs)
    }
}
