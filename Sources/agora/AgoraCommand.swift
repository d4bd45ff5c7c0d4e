import ArgumentParser

/// The `agora` command-line tool: one executable, a subcommand per job.
@main
struct AgoraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agora",
        abstract: "Agora: an open market for AI work, settled on a verifiable ledger.",
        subcommands: [KeygenCommand.self, LedgerCommand.self]
    )
}
