import Foundation

/// Continuous batching: every request the engine serves joins one loop whose forward passes carry a token
/// of each decoding sequence plus chunks of the prompts that are still being read, so one pass over the
/// weights feeds every sequence. Requests join between passes and leave as soon as they finish.
///
/// Why answers do not change: each sequence has its own KV cache and its own `SequenceSampler`, and a
/// forward pass gives every token the bits it gets alone (`ForwardPass`), so a request produces the same
/// tokens served alone, chunked differently, or beside any others.
///
/// The loop runs on its own thread, which is also the compute pool's calling thread; callbacks run on it
/// between passes and must return quickly.
final class BatchScheduler: @unchecked Sendable {
    /// One request: a tokenized prompt and its settings, with the caller's callbacks.
    struct Job: Sendable {
        var prompt: [Int32]
        var request: GenerationRequest
        /// Polled between passes; true ends the request with finish reason `.cancelled`.
        var shouldStop: @Sendable () -> Bool
        var onChunk: @Sendable (GenerationChunk) -> Void
        var onFinish: @Sendable (Result<GenerationResult, GenerationError>) -> Void
    }

    private let core: Core

    /// - Parameters:
    ///   - stepTokens: prompt tokens read per pass (fewer while many sequences decode, so their tokens keep
    ///     flowing; at least a quarter of it).
    ///   - maxSequences: sequences in the batch at once; more requests wait their turn in arrival order.
    init(
        model: LlamaModel, tokenizer: Tokenizer, threads: Int, stepTokens: Int, maxSequences: Int,
        kernelPath: KernelPath
    ) {
        core = Core(
            model: model, tokenizer: tokenizer, threads: threads, stepTokens: max(1, stepTokens),
            maxSequences: max(1, maxSequences), kernelPath: kernelPath)
        let core = self.core
        let thread = Thread { core.loop() }
        thread.name = "agora-batch"
        thread.stackSize = 1 << 20
        thread.start()
    }

    deinit { core.shutDown() }

    /// Queues a request. Invalid requests finish at once (on the caller's thread) with their error.
    func submit(_ job: Job) {
        do {
            try SequenceSampler.validate(
                prompt: job.prompt, request: job.request, contextLength: core.model.contextLength,
                vocabularySize: core.model.vocabularySize)
        } catch {
            job.onFinish(.failure(error))
            return
        }
        core.enqueue(job)
    }

    /// A sequence in the batch.
    private final class Sequence {
        let job: Job
        let cache: KVCache
        var sampler: SequenceSampler
        /// Prompt tokens already in the cache.
        var read = 0
        /// The token to feed next once the prompt is read.
        var next: Int32 = 0
        let joined = DispatchTime.now().uptimeNanoseconds
        var prefilled: UInt64 = 0

        init(job: Job, model: LlamaModel, tokenizer: Tokenizer) {
            self.job = job
            cache = KVCache(model: model, capacity: job.prompt.count + job.request.maxTokens)
            sampler = SequenceSampler(request: job.request, tokenizer: tokenizer)
        }

        var isPrefilling: Bool { read < job.prompt.count }

        func result(_ finish: FinishReason) -> GenerationResult {
            let end = DispatchTime.now().uptimeNanoseconds
            let prefillEnd = prefilled == 0 ? end : prefilled
            return GenerationResult(
                tokens: sampler.tokens, text: sampler.text, promptTokenCount: job.prompt.count,
                finishReason: finish, promptSeconds: Double(prefillEnd - joined) / 1e9,
                generationSeconds: Double(end - prefillEnd) / 1e9, logprobs: sampler.tokenLogprobs)
        }
    }

    /// The loop's state; the thread holds this, not the scheduler, so the engine can go away.
    private final class Core: @unchecked Sendable {
        let model: LlamaModel
        let tokenizer: Tokenizer
        let stepTokens: Int
        let maxSequences: Int
        let pass: ForwardPass
        private let condition = NSCondition()
        private var waiting: [Job] = []
        private var stopped = false
        /// Only the loop's thread touches these.
        private var running: [Sequence] = []
        private var tokens: [Int32] = []

        init(
            model: LlamaModel, tokenizer: Tokenizer, threads: Int, stepTokens: Int, maxSequences: Int,
            kernelPath: KernelPath
        ) {
            self.model = model
            self.tokenizer = tokenizer
            self.stepTokens = stepTokens
            self.maxSequences = maxSequences
            pass = ForwardPass(
                model: model, threads: threads, tokens: stepTokens + maxSequences, logitRows: maxSequences,
                kernelPath: kernelPath)
            tokens.reserveCapacity(stepTokens + maxSequences)
        }

        func enqueue(_ job: Job) {
            condition.lock()
            waiting.append(job)
            condition.signal()
            condition.unlock()
        }

        func shutDown() {
            condition.lock()
            stopped = true
            condition.signal()
            condition.unlock()
        }

        func loop() {
            while true {
                condition.lock()
                while !stopped && waiting.isEmpty && running.isEmpty { condition.wait() }
                if stopped {
                    let abandoned = waiting
                    waiting = []
                    condition.unlock()
                    for job in abandoned { job.onFinish(.failure(.engineStopped)) }
                    for sequence in running { sequence.job.onFinish(.success(sequence.result(.cancelled))) }
                    running = []
                    return
                }
                let room = maxSequences - running.count
                let joining = Array(waiting.prefix(room))
                waiting.removeFirst(joining.count)
                condition.unlock()
                for job in joining { running.append(Sequence(job: job, model: model, tokenizer: tokenizer)) }
                step()
            }
        }

        /// One forward pass over the batch, then each sequence's next step.
        private func step() {
            // A request whose caller went away before its first token leaves without work; later on,
            // `SequenceSampler.next` asks after each token.
            running.removeAll { sequence in
                guard sequence.isPrefilling, sequence.job.shouldStop() else { return false }
                sequence.job.onFinish(.success(sequence.result(.cancelled)))
                return true
            }
            guard !running.isEmpty else { return }

            var segments: [ForwardSegment] = []
            var members: [Sequence] = []
            tokens.removeAll(keepingCapacity: true)
            let decoding = running.filter { !$0.isPrefilling }
            for sequence in decoding {
                tokens.append(sequence.next)
                segments.append(
                    ForwardSegment(
                        cache: sequence.cache, position: sequence.job.prompt.count + sequence.sampler.tokens.count - 1,
                        count: 1, wantsLogits: true))
                members.append(sequence)
            }
            var budget = max(stepTokens / 4, stepTokens - decoding.count)
            for sequence in running where sequence.isPrefilling && budget > 0 {
                let count = min(budget, sequence.job.prompt.count - sequence.read)
                tokens.append(contentsOf: sequence.job.prompt[sequence.read..<sequence.read + count])
                let finishesPrompt = sequence.read + count == sequence.job.prompt.count
                segments.append(
                    ForwardSegment(
                        cache: sequence.cache, position: sequence.read, count: count, wantsLogits: finishesPrompt))
                members.append(sequence)
                sequence.read += count
                budget -= count
            }
            tokens.withUnsafeBufferPointer { pass.run($0, segments: segments) }

            var row = 0
            var finished: [ObjectIdentifier] = []
            for (segment, sequence) in zip(segments, members) where segment.wantsLogits {
                if sequence.prefilled == 0 { sequence.prefilled = DispatchTime.now().uptimeNanoseconds }
                let job = sequence.job
                switch sequence.sampler.next(pass.logits(row: row), shouldStop: job.shouldStop, onChunk: job.onChunk) {
                case .feed(let token):
                    sequence.next = token
                case .finished(let reason):
                    finished.append(ObjectIdentifier(sequence))
                    job.onFinish(.success(sequence.result(reason)))
                }
                row += 1
            }
            if !finished.isEmpty { running.removeAll { finished.contains(ObjectIdentifier($0)) } }
        }
    }
}
