/// What one sequence does with the logits after its latest token: sample the next token, turn it into text
/// safe to show, and decide whether generation ends. Shared by the one-sequence loop (`TokenGenerator`) and
/// the continuous batcher (`BatchScheduler`), so a request runs the very same steps alone or batched.
struct SequenceSampler {
    enum Step: Equatable {
        /// Feed this token and call `next` again with the logits after it.
        case feed(Int32)
        case finished(FinishReason)
    }

    let tokenizer: Tokenizer
    let maxTokens: Int
    let logprobs: Int?
    private var sampler: Sampler
    private var decoder = UTF8StreamDecoder()
    private var stops: StopStringMatcher
    private(set) var tokens: [Int32] = []
    private(set) var text = ""
    private(set) var tokenLogprobs: [TokenLogprob] = []
    /// Constrained decoding: where the answer stands in the grammar, and the tokens allowed next.
    private var matcher: GrammarMatcher?
    private var mask: TokenMask?
    /// A grammar waiting for its trigger text, and the answer's bytes so far while it waits.
    private var waiting: (grammar: JSONGrammar, trigger: [UInt8])?
    private var pending: [UInt8] = []

    init(request: GenerationRequest, tokenizer: Tokenizer) {
        self.tokenizer = tokenizer
        maxTokens = request.maxTokens
        logprobs = request.logprobs
        sampler = Sampler(request.sampling)
        stops = StopStringMatcher(request.stop)
        if let grammar = request.grammar {
            if let trigger = request.grammarTrigger, !trigger.isEmpty {
                waiting = (grammar, trigger)
            } else {
                matcher = GrammarMatcher(grammar: grammar)
                mask = TokenMask(vocabularySize: tokenizer.vocabularySize)
            }
        }
    }

    /// The checks every request passes before any work: a prompt, at least one token to generate, sane
    /// sampling parameters, and room in a context of `contextLength` positions.
    static func validate(
        prompt: [Int32], request: GenerationRequest, contextLength: Int, vocabularySize: Int
    ) throws(GenerationError) {
        guard !prompt.isEmpty else { throw .emptyPrompt }
        guard request.maxTokens >= 1 else { throw .invalidParameters("max_tokens must be at least 1") }
        let sampling = request.sampling
        guard sampling.temperature.isFinite, sampling.topP.isFinite, sampling.topP > 0, sampling.topK >= 0 else {
            throw .invalidParameters("temperature and top_p must be finite, top_p > 0, top_k >= 0")
        }
        guard sampling.minP.isFinite, sampling.minP >= 0, sampling.minP <= 1, sampling.repetitionPenalty.isFinite,
            sampling.repetitionPenalty > 0, sampling.presencePenalty.isFinite, sampling.frequencyPenalty.isFinite,
            sampling.logitBias.allSatisfy({ $0.bias.isFinite })
        else {
            throw .invalidParameters("min_p in [0, 1], repetition penalty > 0, finite penalties and biases")
        }
        if let top = request.logprobs, top < 0 || top > TokenLogprob.maxTop {
            throw .invalidParameters("top log-probabilities must be between 0 and \(TokenLogprob.maxTop)")
        }
        guard prompt.count + request.maxTokens <= contextLength else {
            throw .contextLimitExceeded(
                promptTokens: prompt.count, maxTokens: request.maxTokens, contextLength: contextLength)
        }
        for token in prompt where token < 0 || Int(token) >= vocabularySize {
            throw .inference(.invalidToken(token, vocabularySize: vocabularySize))
        }
    }

    /// Samples from `logits`, reports the token and its text through `onChunk`, and says what comes next.
    /// `shouldStop` is asked after the token is reported, as it always was: a cancelled job's output is a
    /// prefix of the job's.
    mutating func next(
        _ logits: UnsafeBufferPointer<Float>, shouldStop: () -> Bool, onChunk: (GenerationChunk) -> Void
    ) -> Step {
        let token: Int32
        if let state = matcher {
            // In place: the mask's buffers are reused from step to step.
            mask!.compute(state, trie: tokenizer.vocabularyTrie)
            token = sampler.sample(logits, allowed: mask!.allowed)
            if !tokenizer.isEndOfGeneration(token) { matcher!.advance(tokenizer.tokenBytes(token)) }
        } else {
            token = sampler.sample(logits)
            if let (grammar, trigger) = waiting, !tokenizer.isEndOfGeneration(token) {
                pending += tokenizer.tokenBytes(token)
                if let found = pending.firstRange(of: trigger) {
                    var started = GrammarMatcher(grammar: grammar)
                    if started.advance(Array(pending[found.lowerBound...])) {
                        matcher = started
                        mask = TokenMask(vocabularySize: tokenizer.vocabularySize)
                    }
                    waiting = nil
                    pending = []
                }
            }
        }
        tokens.append(token)
        let logprob = logprobs.map { TokenLogprob.compute(logits, token: token, top: $0) }
        if let logprob { tokenLogprobs.append(logprob) }
        let endOfGeneration = tokenizer.isEndOfGeneration(token)
        let bytes = endOfGeneration ? [] : tokenizer.tokenBytes(token)
        let last = endOfGeneration || tokens.count == maxTokens
        var (emit, stopped) = stops.append(decoder.append(bytes))
        if last && !stopped {
            // The end: release a held partial character and any text held for a possible stop string.
            let tail = stops.append(decoder.finish())
            emit += tail.emit
            stopped = tail.stopped
            if !stopped { emit += stops.flush() }
        }
        text += emit
        onChunk(GenerationChunk(token: token, text: emit, logprob: logprob))
        if endOfGeneration || stopped { return .finished(.stop) }
        if shouldStop() { return .finished(.cancelled) }
        if last { return .finished(.length) }
        return .feed(token)
    }
}
