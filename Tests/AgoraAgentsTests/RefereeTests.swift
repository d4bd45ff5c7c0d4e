import AgoraAgents
import AgoraCore
import AgoraInference
import AgoraLedger
import AgoraNode
import AgoraWire
import Foundation
import Testing

/// The referee reads challenges (and the requests their challengers revealed) from the ledger, re-runs them
/// with its engine, and submits verdicts — or abstains when it cannot judge.
@Suite struct RefereeTests {
    struct Fixture {
        let ledger: Ledger
        let access: EmbeddedLedger
        let payer = SigningKey(deterministicLabel: "referee-payer")
        let node = SigningKey(deterministicLabel: "referee-node")
        let challenger = SigningKey(deterministicLabel: "referee-challenger")
        let referee = SigningKey(deterministicLabel: "referee-key")
        let sequencer = SigningKey(deterministicLabel: "referee-sequencer")
        var request = JobRequest(
            input: .chat([OpenAIMessage(role: "user", content: "What is the capital of France?")]), maxTokens: 8,
            temperature: 0, topP: 1, topK: 0, seed: 5, stop: [])
        /// The model the settled jobs name (the default model unless a test says otherwise).
        var modelHash = MarketTests.engine.modelHash
        /// The output hash the node signs (a wrong one unless a test says otherwise).
        var outputHash = Hash256.of(Array("not what the model says".utf8))

        init() throws {
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
                "agora-referee-\(UUID().uuidString)")
            let genesis = Genesis(
                parameters: ChainParameters(chainID: "agora-referee-test", referee: referee.publicKey),
                sequencer: sequencer.publicKey, timestamp: 1_700_000_000_000,
                allocations: [
                    Allocation(account: payer.publicKey, amount: Amount(microUnits: 10_000_000)),
                    Allocation(account: node.publicKey, amount: Amount(microUnits: 500_000_000)),
                    Allocation(account: challenger.publicKey, amount: Amount(microUnits: 50_000_000)),
                    Allocation(account: referee.publicKey, amount: Amount(microUnits: 1_000)),
                ])
            ledger = try Ledger.create(at: directory, genesis: genesis, sequencerKey: sequencer)
            access = EmbeddedLedger(ledger)
        }

        /// Settles a job of `request` whose receipt names `engineVersion` and a wrong output, then files a
        /// challenge revealing the request. Returns the job id.
        func challengedJob(engineVersion: String, nonce: UInt64) async throws -> Hash256 {
            let jobID = try settledJob(engineVersion: engineVersion, nonce: nonce)
            #expect(try await challenge(jobID, revealing: request).rejection == nil)
            return jobID
        }

        func challenge(_ jobID: Hash256, revealing revealed: JobRequest) async throws -> SubmissionResult {
            try await access.signAndSubmit(
                .fileChallenge(
                    jobID: jobID, claimedOutputHash: Hash256.of([1]), evidence: .zero,
                    revealedRequest: revealed.canonicalBytes), by: challenger
            ).result
        }

        /// Settles a job of `request` whose receipt names `engineVersion` and a wrong output.
        func settledJob(engineVersion: String, nonce: UInt64) throws -> Hash256 {
            let model = modelHash
            let jobID = Hash256.random()
            let input = request.inputHash(modelHash: model)
            let voucher = Voucher(
                chainID: ledger.chainID, payer: payer.publicKey, payee: node.publicKey, jobID: jobID, modelHash: model,
                inputHash: input, maxAmount: Amount(microUnits: 1_000), expiry: UInt64.max / 2
            ).signed(by: payer)
            let receipt = JobReceipt(
                chainID: ledger.chainID, jobID: jobID, node: node.publicKey, payer: payer.publicKey, modelHash: model,
                inputHash: input, outputHash: outputHash, inputTokens: 10,
                outputTokens: 8, amount: Amount(microUnits: 500), seed: 5, engineVersion: engineVersion,
                timestamp: 1_700_000_000_000
            ).signed(by: node)
            var setup: [Transaction] = []
            if nonce == 1 {
                setup.append(
                    Transaction.signed(
                        by: payer, chainID: ledger.chainID, nonce: 1,
                        body: .deposit(amount: Amount(microUnits: 100_000))
                    ))
                setup.append(
                    Transaction.signed(
                        by: node, chainID: ledger.chainID, nonce: 1,
                        body: .stake(amount: Amount(microUnits: 200_000_000))
                    ))
            }
            setup.append(
                Transaction.signed(
                    by: node, chainID: ledger.chainID, nonce: nonce + 1,
                    body: .settleJob(voucher: voucher, receipt: receipt)))
            #expect(try ledger.produceBlock(setup).rejected.isEmpty)
            return jobID
        }
    }

    @Test func aJobRecordedUnderAnotherEngineVersionGetsNoVerdict() async throws {
        let fixture = try Fixture()
        let engine = MarketTests.engine
        let jobID = try await fixture.challengedJob(engineVersion: "agora-0.0.1/k1", nonce: 1)
        #expect(try fixture.ledger.job(jobID)?.engineVersion == "agora-0.0.1/k1")
        let referee = Referee(key: fixture.referee, engine: engine)
        let stakeBefore = try fixture.ledger.account(fixture.node.publicKey).stake
        let height = fixture.ledger.head.header.height
        do {
            _ = try await referee.resolve(jobID: jobID, on: fixture.access)
            Issue.record("the referee judged a job of another engine version")
        } catch {
            #expect(error == .engineVersionMismatch(job: "agora-0.0.1/k1", referee: engine.engineVersion))
            #expect(error.isAbstention)
        }
        // Nothing happened on the ledger: no block, the challenge still open, the node's stake whole.
        #expect(fixture.ledger.head.header.height == height)
        #expect(try fixture.ledger.challenge(jobID)?.isOpen == true)
        #expect(try fixture.ledger.account(fixture.node.publicKey).stake == stakeBefore)
        #expect(try await fixture.access.allOpenChallenges().map(\.jobID) == [jobID])
    }

    @Test func aWrongOutputUnderThisEngineVersionIsSlashedAndADryRunSubmitsNothing() async throws {
        let fixture = try Fixture()
        let engine = MarketTests.engine
        let jobID = try await fixture.challengedJob(engineVersion: engine.engineVersion, nonce: 1)
        let height = fixture.ledger.head.header.height
        let dryRun = try await Referee(key: nil, engine: engine).resolve(jobID: jobID, on: fixture.access)
        #expect(dryRun.nodeAtFault)
        #expect(fixture.ledger.head.header.height == height)
        let expected = try engine.complete(fixture.request).outputHash
        #expect(dryRun.recomputedOutputHash == expected)

        let verdict = try await Referee(key: fixture.referee, engine: engine).resolve(jobID: jobID, on: fixture.access)
        #expect(verdict.nodeAtFault)
        #expect(try fixture.ledger.job(jobID)?.status == .nodeSlashed)
        #expect(try fixture.ledger.node(fixture.node.publicKey) == nil)  // never registered: only the stake
        #expect(try fixture.ledger.account(fixture.node.publicKey).stake < Amount(microUnits: 200_000_000))
        #expect(try await fixture.access.allOpenChallenges().isEmpty)
        #expect(try fixture.ledger.moneyHeld() == (try fixture.ledger.totals()).supply.microUnits)
    }

    /// An embeddings job is judged like any other: the referee re-embeds the revealed inputs with the embedding
    /// model the job names; a wrong vector is the node's fault, the right ones make the challenge frivolous.
    @Test func embeddingsJobsAreJudgedByReEmbedding() async throws {
        let url = ModelStore().directory.appendingPathComponent("all-MiniLM-L6-v2.gguf")
        guard FileManager.default.fileExists(atPath: url.path) else {
            try Test.cancel("all-MiniLM-L6-v2.gguf is not in the model cache (bash .ci/run makes it)")
        }
        let engine = try LocalEmbeddingEngine(modelURL: url, threads: 2)
        var fixture = try Fixture()
        fixture.request = .embeddings([.text("The capital of France is Paris."), .tokens([7592, 2088])])
        fixture.modelHash = engine.modelHash
        let referee = Referee(key: fixture.referee, engines: [MarketTests.engine, engine])
        let wrong = try await fixture.challengedJob(engineVersion: engine.engineVersion, nonce: 1)
        let verdict = try await referee.resolve(jobID: wrong, on: fixture.access)
        #expect(verdict.nodeAtFault)
        #expect(verdict.recomputedOutputHash == (try engine.complete(fixture.request).outputHash))

        fixture.outputHash = try engine.complete(fixture.request).outputHash
        let honest = try fixture.settledJob(engineVersion: engine.engineVersion, nonce: 2)
        #expect(try await fixture.challenge(honest, revealing: fixture.request).rejection == nil)
        let cleared = try await referee.resolve(jobID: honest, on: fixture.access)
        #expect(!cleared.nodeAtFault)
        #expect(try fixture.ledger.moneyHeld() == (try fixture.ledger.totals()).supply.microUnits)
    }

    @Test func aRevealedRequestMustHashToTheJobsInput() async throws {
        let fixture = try Fixture()
        let jobID = try fixture.settledJob(engineVersion: MarketTests.engine.engineVersion, nonce: 1)
        var other = fixture.request
        other.seed = 6
        let bondHolderBefore = try fixture.ledger.account(fixture.challenger.publicKey)
        #expect(try await fixture.challenge(jobID, revealing: other).rejection == .revealedRequestMismatch)
        #expect(try fixture.ledger.account(fixture.challenger.publicKey).balance == bondHolderBefore.balance)
        #expect(try fixture.ledger.job(jobID)?.status == .settled)
        #expect(try await fixture.challenge(jobID, revealing: fixture.request).rejection == nil)
        #expect(try fixture.ledger.challenge(jobID)?.revealedRequest == fixture.request.canonicalBytes)
        // The revealed bytes round-trip into the same request; garbage does not decode.
        #expect(try JobRequest(canonicalBytes: fixture.request.canonicalBytes) == fixture.request)
        #expect(throws: CanonicalDecodingError.self) { _ = try JobRequest(canonicalBytes: [9, 9, 9]) }
    }

    /// A revealed request is whatever bytes a challenger put on the ledger: mutated and truncated encodings
    /// decode or throw, never crash, and whatever decodes encodes back to the same bytes.
    @Test func mutatedRevealedRequestsNeverCrashTheDecoder() {
        let fixture = JobRequest(
            input: .chat([
                OpenAIMessage(role: "system", content: "Be brief."), OpenAIMessage(role: "user", content: "Hi there"),
            ]), maxTokens: 64, temperature: 0.7, topP: 0.9, topK: 40, seed: 99, stop: ["\n\n", "END"])
        let bytes = fixture.canonicalBytes
        var generator = SplitMix64(seed: 17)
        var decoded = 0
        for round in 0..<20_000 {
            var mutated = bytes
            if round % 3 == 0 {
                mutated = Array(mutated.prefix(Int(generator.next() % UInt64(mutated.count + 1))))
            } else {
                for _ in 0..<(1 + Int(generator.next() % 4)) where !mutated.isEmpty {
                    mutated[Int(generator.next() % UInt64(mutated.count))] = UInt8(truncatingIfNeeded: generator.next())
                }
            }
            if let request = try? JobRequest(canonicalBytes: mutated) {
                decoded += 1
                #expect(request.canonicalBytes == mutated)
            }
        }
        #expect(decoded > 0)
    }
}
