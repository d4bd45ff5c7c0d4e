/// Chooses tokens from logits, deterministically for given parameters and seed.
///
/// The procedure (a referee reimplements exactly this; sums are Double, added in the order stated):
/// 0. Adjusted logits, only when a grammar, bias or a penalty is set (Float arithmetic, as written):
///    a. `logit_bias`: l_t = l_t + bias_t for each entry;
///    b. for each token t generated so far in this sequence (c_t times; the prompt does not count):
///       l_t = l_t <= 0 ? l_t * repetition : l_t / repetition (when repetition ≠ 1), then
///       l_t = l_t - (Float(c_t) * frequency + presence) — llama.cpp's penalty step, with no window;
///    c. tokens a grammar does not allow next get -∞ (weight 0 below: never chosen).
/// 1. Greedy (`temperature <= 0` or `topK == 1`): the largest logit, lowest id among equals; no draw.
/// 2. Weights w_i = exp((l_i - l_max) / temperature), in Float with `DeterministicMath.exp`.
///    `minP > 0` sets w_i = 0 where w_i < minP (the top token's weight is 1).
/// 3. Candidates: with neither filter active, every token in id order. Otherwise tokens ordered by logit
///    descending, ties by id ascending, cut to the first `topK` when `topK > 0`.
/// 4. S = sum of the candidates' weights in increasing id order.
/// 5. `topP < 1` keeps the shortest candidate prefix whose running weight sum reaches topP · S, and
///    K = that running sum; otherwise all candidates are kept and K = S.
/// 6. One draw u = `nextUnitDouble()`; the token is the first kept candidate whose running weight sum
///    exceeds u · K (if rounding leaves none, the last kept one of non-zero weight).
public struct Sampler: Sendable {
    public let parameters: SamplingParameters
    private var generator: Xoshiro256StarStar
    private var candidates: [Int32] = []
    private var weights: [Float] = []
    /// The adjusted logits (step 0), when bias or a penalty is set.
    private var adjusted: [Float] = []
    /// How often each token was chosen so far (the penalties' counts).
    private var counts: [Int32: Int] = [:]

    public init(_ parameters: SamplingParameters) {
        self.parameters = parameters
        generator = Xoshiro256StarStar(seed: parameters.seed)
    }

    /// The lowest-id maximum.
    public static func argmax(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        var bestValue = logits[0]
        for i in 1..<logits.count where logits[i] > bestValue {
            best = i
            bestValue = logits[i]
        }
        return Int32(best)
    }

    /// Chooses the next token and counts it for the penalties of the steps after it. `allowed` (one flag per
    /// token) restricts the choice to a grammar's tokens; at least one must be allowed.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>, allowed: [Bool]? = nil) -> Int32 {
        let token: Int32
        if parameters.adjustsLogits || allowed != nil {
            adjust(logits)
            if let allowed {
                // Logits past the mask (a model whose output rows outnumber the tokenizer's tokens) are no
                // token the grammar allows either.
                for i in 0..<adjusted.count where i >= allowed.count || !allowed[i] { adjusted[i] = -.infinity }
            }
            let buffer = adjusted
            token = buffer.withUnsafeBufferPointer { choose($0) }
        } else {
            token = choose(logits)
        }
        counts[token, default: 0] += 1
        return token
    }

    /// Step 0: `logits` with the bias and the penalties applied, into `adjusted` (a copy only, when just a
    /// grammar mask follows).
    private mutating func adjust(_ logits: UnsafeBufferPointer<Float>) {
        if adjusted.count != logits.count { adjusted = [Float](repeating: 0, count: logits.count) }
        for i in 0..<logits.count { adjusted[i] = logits[i] }
        guard parameters.adjustsLogits else { return }
        for entry in parameters.logitBias where Int(entry.token) < logits.count && entry.token >= 0 {
            adjusted[Int(entry.token)] = adjusted[Int(entry.token)] + entry.bias
        }
        let repetition = parameters.repetitionPenalty
        let frequency = parameters.frequencyPenalty
        let presence = parameters.presencePenalty
        for (token, count) in counts where Int(token) < logits.count {
            var value = adjusted[Int(token)]
            if repetition != 1 { value = value <= 0 ? value * repetition : value / repetition }
            let penalty = Float(count) * frequency + presence
            adjusted[Int(token)] = value - penalty
        }
    }

    /// Steps 1–6 on the (adjusted) logits.
    private mutating func choose(_ logits: UnsafeBufferPointer<Float>) -> Int32 {
        if parameters.isGreedy { return Self.argmax(logits) }
        let vocabulary = logits.count
        let temperature = parameters.temperature
        let maximum = logits[Int(Self.argmax(logits))]
        if weights.count != vocabulary { weights = [Float](repeating: 0, count: vocabulary) }
        for i in 0..<vocabulary { weights[i] = DeterministicMath.exp((logits[i] - maximum) / temperature) }
        let minP = parameters.minP
        if minP > 0 { for i in 0..<vocabulary where weights[i] < minP { weights[i] = 0 } }

        let topK = parameters.topK > 0 && parameters.topK < vocabulary ? parameters.topK : 0
        let topP = parameters.topP < 1 ? Double(parameters.topP) : nil
        candidates.removeAll(keepingCapacity: true)
        var sum: Double = 0
        if topK > 0 {
            selectTopK(logits, k: topK)
            let byID = candidates.sorted()
            for id in byID { sum += Double(weights[Int(id)]) }
        } else {
            for i in 0..<vocabulary { sum += Double(weights[i]) }
            if topP != nil {
                // Only tokens within 2^-20 of the top weight are sorted first (in logit space, so the set
                // is a prefix of the full order); the full sort runs only if their mass falls short.
                let floor = maximum - temperature * 13.862_944  // ln(2^20)
                for i in 0..<vocabulary where logits[i] >= floor { candidates.append(Int32(i)) }
                sortByLogit(logits)
                if !reaches(Double(parameters.topP) * sum) {
                    candidates = (0..<vocabulary).map { Int32($0) }
                    sortByLogit(logits)
                }
            } else {
                for i in 0..<vocabulary { candidates.append(Int32(i)) }
            }
        }

        var kept = candidates.count
        var keptSum = sum
        if let topP {
            let target = topP * sum
            var running: Double = 0
            for (n, id) in candidates.enumerated() {
                running += Double(weights[Int(id)])
                if running >= target || n == candidates.count - 1 {
                    kept = n + 1
                    keptSum = running
                    break
                }
            }
        }
        let u = generator.nextUnitDouble() * keptSum
        var running: Double = 0
        for n in 0..<kept {
            running += Double(weights[Int(candidates[n])])
            if running > u { return candidates[n] }
        }
        for n in (0..<kept).reversed() where weights[Int(candidates[n])] > 0 { return candidates[n] }
        return candidates[kept - 1]
    }

    private static func before(_ a: Int32, _ b: Int32, _ logits: UnsafeBufferPointer<Float>) -> Bool {
        let la = logits[Int(a)]
        let lb = logits[Int(b)]
        return la > lb || (la == lb && a < b)
    }

    private mutating func sortByLogit(_ logits: UnsafeBufferPointer<Float>) {
        candidates.sort { Self.before($0, $1, logits) }
    }

    /// The first `k` tokens of the logit order, kept in a bounded insertion list (k is small in practice).
    private mutating func selectTopK(_ logits: UnsafeBufferPointer<Float>, k: Int) {
        for i in 0..<logits.count {
            let id = Int32(i)
            if candidates.count == k {
                guard Self.before(id, candidates[k - 1], logits) else { continue }
                candidates.removeLast()
            }
            var position = candidates.count
            while position > 0 && Self.before(id, candidates[position - 1], logits) { position -= 1 }
            candidates.insert(id, at: position)
        }
    }

    /// Whether the running weight sum over the current candidates reaches `target`.
    private func reaches(_ target: Double) -> Bool {
        var running: Double = 0
        for id in candidates {
            running += Double(weights[Int(id)])
            if running >= target { return true }
        }
        return false
    }
}
