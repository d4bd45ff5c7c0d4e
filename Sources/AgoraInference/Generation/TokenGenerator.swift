import Foundation

/// The generation loop of one request: prefill, then sample → stream → evaluate until a stop condition.
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
        guard !prompt.isEmpty else { throw .emptyPrompt }
        guard request.maxTokens >= 1 else { throw .invalidParameters("max_tokens must be at least 1") }
        let sampling = request.sampling
        guard sampling.temperature.isFinite, sampling.topP.isFinite, sampling.topP > 0, sampling.topK >= 0 else {
            throw .invalidParameters("temperature and top_p must be finite, top_p > 0, top_k >= 0")
        }
        let context = state.model.contextLength
        guard prompt.count + request.maxTokens <= context else {
            throw .contextLimitExceeded(
                promptTokens: prompt.count, maxTokens: request.maxTokens, contextLength: context)
        }

        let start = DispatchTime.now().uptimeNanoseconds
        state.reset()
        var logits: UnsafeBufferPointer<Float>
        do { logits = try state.evaluate(prompt) } catch { throw .inference(error) }
        let prefilled = DispatchTime.now().uptimeNanoseconds

        var sampler = Sampler(sampling)
        var decoder = UTF8StreamDecoder()
        var matcher = StopStringMatcher(request.stop)
        var tokens: [Int32] = []
        var text = ""
        var finish = FinishReason.length
        while tokens.count < request.maxTokens {
            let token = sampler.sample(logits)
            tokens.append(token)
            let endOfGeneration = tokenizer.isEndOfGeneration(token)
            let bytes = endOfGeneration ? [] : tokenizer.tokenBytes(token)
            let last = endOfGeneration || tokens.count == request.maxTokens
            var (emit, stopped) = matcher.append(decoder.append(bytes))
            if last && !stopped {
                // The end: release a held partial character and any text held for a possible stop string.
                let tail = matcher.append(decoder.finish())
                emit += tail.emit
                stopped = tail.stopped
                if !stopped { emit += matcher.flush() }
            }
            text += emit
            onChunk(GenerationChunk(token: token, text: emit))
            if endOfGeneration || stopped {
                finish = .stop
                break
            }
            if shouldStop() {
                finish = .cancelled
                break
            }
            if last { break }
            do { logits = try state.evaluate([token]) } catch { throw .inference(error) }
        }
        let end = DispatchTime.now().uptimeNanoseconds
        return GenerationResult(
            tokens: tokens, text: text, promptTokenCount: prompt.count, finishReason: finish,
            promptSeconds: Double(prefilled - start) / 1e9, generationSeconds: Double(end - prefilled) / 1e9)
    }
}
