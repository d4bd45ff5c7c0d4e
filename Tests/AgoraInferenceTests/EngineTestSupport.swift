import Foundation

@testable import AgoraInference

/// The default model, loaded once per test process and shared by the engine tests (loading repacks about
/// 100 MB of weights; doing it per test would dominate the suite's time).
enum EngineTestModel {
    static let gguf: GGUFFile = try! TestModel.defaultGGUF()

    /// The model with a short context: the tests never need more, and the rotary table stays small.
    static let model: LlamaModel = try! LlamaModel(gguf: gguf, contextLength: 512)

    /// The golden case of the shared notes: ChatML "What is the capital of France?" without a system message.
    static let goldenPrompt: [Int32] = [1, 4093, 198, 1780, 314, 260, 3575, 282, 4649, 47, 2, 198, 1, 520, 9531, 198]
    static let goldenCompletion: [Int32] = [504, 3575, 282, 4649, 314, 7042, 30, 2]

    /// The logits after `tokens`, fed in chunks of `chunk` tokens.
    static func logits(
        _ tokens: [Int32], threads: Int, chunk: Int? = nil, path: KernelPath = .current, batchSize: Int = 64
    ) throws -> [Float] {
        let state = LlamaState(model: model, threads: threads, batchSize: batchSize, kernelPath: path)
        var result: [Float] = []
        var start = 0
        let step = chunk ?? tokens.count
        while start < tokens.count {
            let end = min(tokens.count, start + step)
            result = Array(try state.evaluate(Array(tokens[start..<end])))
            start = end
        }
        return result
    }

    static func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    static func argmax(_ values: UnsafeBufferPointer<Float>) -> Int32 {
        var best = 0
        for i in 1..<values.count where values[i] > values[best] { best = i }
        return Int32(best)
    }
}
