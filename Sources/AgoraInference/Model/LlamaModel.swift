import Foundation

/// A loaded llama-architecture network: immutable weights plus the rotary table. Shared by every
/// `LlamaState` that runs it.
public final class LlamaModel: @unchecked Sendable {
    public let hyperparameters: LlamaHyperparameters
    /// The longest sequence (prompt + generated tokens) a state of this model can hold.
    public let contextLength: Int
    let weights: LlamaWeights
    let rotary: RotaryTable

    /// Loads and repacks every tensor; `contextLength` (at most the model's own) bounds the KV cache.
    public init(gguf: GGUFFile, contextLength: Int? = nil) throws(ModelLoadError) {
        weights = try LlamaWeights(gguf: gguf)
        hyperparameters = weights.hyper
        self.contextLength = min(contextLength ?? weights.hyper.contextLength, weights.hyper.contextLength)
        rotary = RotaryTable(
            headDim: weights.hyper.headDim, base: weights.hyper.ropeFreqBase, positions: self.contextLength,
            style: weights.hyper.family.rotaryStyle, frequencyFactors: weights.ropeFrequencyFactors)
    }

    public var vocabularySize: Int { hyperparameters.vocabularySize }
}
