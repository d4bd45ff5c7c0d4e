import AgoraCore
import AgoraNode
import AgoraWire
import Foundation

/// A dishonest node's engine, for demonstrating and testing that audits catch cheaters: on a fixed fraction
/// of jobs it skips most of the work — it generates only a few tokens and signs that cheaper, wrong answer as
/// if it were the real one. Which jobs it cheats on is decided by a hash of the job, so runs are repeatable.
public struct CheatingEngine: CompletionEngine {
    public let honest: any CompletionEngine
    /// Fraction of jobs answered dishonestly, in [0, 1].
    public let cheatRate: Double
    public let salt: UInt64

    public init(honest: any CompletionEngine, cheatRate: Double, salt: UInt64 = 0) {
        self.honest = honest
        self.cheatRate = min(max(cheatRate, 0), 1)
        self.salt = salt
    }

    public var modelName: String { honest.modelName }
    public var modelHash: Hash256 { honest.modelHash }
    public var engineVersion: String { honest.engineVersion }
    public var contextLength: Int { honest.contextLength }
    public var vocabularySize: Int { honest.vocabularySize }
    public var toolFormat: ToolFormat { honest.toolFormat }

    public func promptTokenCount(_ request: JobRequest) throws -> Int { try honest.promptTokenCount(request) }

    public func check(_ request: JobRequest) throws(RequestError) { try honest.check(request) }

    public func memoryReservation(promptTokens: Int, maxTokens: Int) -> Int {
        honest.memoryReservation(promptTokens: promptTokens, maxTokens: maxTokens)
    }

    /// Whether this job is one the engine cheats on.
    public func cheats(on request: JobRequest) -> Bool {
        var writer = CanonicalWriter()
        writer.write(salt)
        request.encode(to: &writer)
        let draw = Hash256.of(writer.bytes).bytes.prefix(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        return Double(draw) / Double(UInt64.max) < cheatRate
    }

    public func complete(
        _ request: JobRequest, shouldStop: @escaping @Sendable () -> Bool, onDelta: @Sendable (CompletionDelta) -> Void
    ) throws -> CompletionOutcome {
        guard cheats(on: request), request.maxTokens > 2 else {
            return try honest.complete(request, shouldStop: shouldStop, onDelta: onDelta)
        }
        var cheap = request
        cheap.maxTokens = max(1, request.maxTokens / 8)
        var outcome = try honest.complete(cheap, shouldStop: shouldStop, onDelta: onDelta)
        for index in outcome.choices.indices { outcome.choices[index].finishReason = "stop" }
        return outcome
    }
}
