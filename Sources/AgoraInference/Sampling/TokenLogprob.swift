/// A generated token's log-probability under the model, with the most likely alternatives at that step: what
/// OpenAI's `logprobs` report. Values come from the raw logits (before bias, penalties and temperature), by
/// `TokenLogprob.compute`, so they are the same bits on every machine and every re-execution.
public struct TokenLogprob: Sendable, Equatable, Hashable {
    public struct Candidate: Sendable, Equatable, Hashable {
        public var token: Int32
        public var logprob: Float

        public init(token: Int32, logprob: Float) {
            self.token = token
            self.logprob = logprob
        }
    }

    public var token: Int32
    public var logprob: Float
    /// The `k` tokens of highest logit, best first, ties by lower id.
    public var top: [Candidate]

    public init(token: Int32, logprob: Float, top: [Candidate]) {
        self.token = token
        self.logprob = logprob
        self.top = top
    }

    /// The most alternatives a request may ask for (OpenAI's limit).
    public static let maxTop = 20

    /// log-softmax at `token` and the `top` best tokens:
    ///
    ///     m = the largest logit;  S = Σ_i Double(exp(l_i − m)) in id order (`DeterministicMath.exp`, Float)
    ///     logprob(i) = Float(Double(l_i − m) − ln S)          (`DeterministicMath.log`; l_i − m in Float)
    public static func compute(_ logits: UnsafeBufferPointer<Float>, token: Int32, top: Int) -> TokenLogprob {
        let maximum = logits[Int(Sampler.argmax(logits))]
        var sum: Double = 0
        for i in 0..<logits.count { sum += Double(DeterministicMath.exp(logits[i] - maximum)) }
        let logSum = DeterministicMath.log(sum)
        func value(_ id: Int32) -> Float { Float(Double(logits[Int(id)] - maximum) - logSum) }
        var best: [Int32] = []
        let k = min(max(top, 0), logits.count)
        if k > 0 {
            best.reserveCapacity(k)
            for i in 0..<logits.count {
                let id = Int32(i)
                if best.count == k {
                    guard logits[i] > logits[Int(best[k - 1])] else { continue }
                    best.removeLast()
                }
                var position = best.count
                while position > 0 && logits[i] > logits[Int(best[position - 1])] { position -= 1 }
                best.insert(id, at: position)
            }
        }
        return TokenLogprob(
            token: token, logprob: value(token), top: best.map { Candidate(token: $0, logprob: value($0)) })
    }
}
