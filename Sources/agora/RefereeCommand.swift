import AgoraAgents
import AgoraClient
import AgoraCore
import AgoraLedger
import AgoraNode
import AgoraWire
import ArgumentParser
import Foundation

/// `agora referee`: follows the chain, picks up open challenges with the requests their challengers revealed,
/// re-executes each job with the registered model file and this engine, and submits the verdict signed with
/// the referee key named at genesis. A job recorded under another engine version, or for a model this
/// referee has no file for, gets no verdict (an abstention, printed once). `--dry-run` recomputes verdicts
/// without the key: anyone can check the referee.
struct RefereeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "referee",
        abstract: "Judge open challenges by re-executing the disputed jobs; submit verdicts with the referee key.")

    @OptionGroup var location: LedgerLocation
    @Option(help: "The referee's key file (the chain's referee, set at genesis).") var key: String = "referee.key"
    @Flag(help: "Recompute verdicts and print them; submit nothing (needs no key).") var dryRun = false
    @Option(help: "GGUF model file this referee can re-run (repeatable; default: the default model).")
    var model: [String] = []
    @Option(
        help: ArgumentHelp(
            "Embedding GGUF this referee can re-run as well (repeatable; 'default': all-MiniLM-L6-v2).",
            valueName: "path|default"))
    var embeddings: [String] = []
    @Option(help: "Engine threads.") var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Flag(help: "Judge the challenges open now, then exit (instead of following the chain).") var once = false

    func run() async throws {
        let ledger = try await location.submitter()
        let signer: SigningKey? = dryRun ? nil : try KeyFileStore.load(URL(fileURLWithPath: key))
        if let signer, signer.publicKey != ledger.parameters.referee {
            throw ValidationError(
                "\(key) holds \(signer.address), but the chain's referee is \(ledger.parameters.referee.address)")
        }
        let files: [String?] = model.isEmpty ? [nil] : model
        var engines: [any CompletionEngine] = []
        for file in files { engines.append(try EngineCommandSupport.completionEngine(file, threads: threads)) }
        for file in embeddings {
            engines.append(
                try LocalEmbeddingEngine(
                    modelURL: try EngineCommandSupport.embeddingModelURL(file), threads: threads))
        }
        let referee = Referee(key: signer, engines: engines)
        for engine in engines {
            printError(
                "referee can re-run \(engine.modelName) (\(engine.modelHash.short)…) on engine \(engine.engineVersion)")
        }
        printError(
            dryRun ? "dry run: verdicts are printed, not submitted" : "referee \(signer!.address) following the chain")

        var abstained: Set<Hash256> = []
        var height = try await ledger.head().header.height
        while !Task.isCancelled {
            for entry in try await ledger.allOpenChallenges() where !abstained.contains(entry.jobID) {
                do {
                    let verdict =
                        dryRun
                        ? try await referee.judge(entry) : try await referee.resolve(jobID: entry.jobID, on: ledger)
                    say(
                        "job \(entry.jobID.short)…: re-ran on \(entry.job.engineVersion) → \(verdict.nodeAtFault ? "node at fault (slashed)" : "output matches (challenge rejected)")\(dryRun ? " [dry run]" : "")"
                    )
                    if dryRun { abstained.insert(entry.jobID) }
                } catch  where error.isAbstention {
                    abstained.insert(entry.jobID)
                    say("job \(entry.jobID.short)…: abstains — \(error)")
                } catch {
                    printError("job \(entry.jobID.short)…: \(error); retrying with the next block")
                }
            }
            if once { break }
            height = try await ledger.waitForHead(above: height, timeout: .seconds(10)).header.height
        }
    }
}
