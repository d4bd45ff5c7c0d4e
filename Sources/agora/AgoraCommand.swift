import ArgumentParser

/// The `agora` command-line tool: one executable, a subcommand per job.
@main
struct AgoraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agora",
        abstract: "Agora: an open market for AI work, settled on a verifiable ledger.",
        subcommands: [
            DemoCommand.self, KeygenCommand.self, LedgerCommand.self, NodeCommand.self, ChatCommand.self,
            VerifyReceiptCommand.self, NodesCommand.self, SearchCommand.self, ModelsCommand.self, ModelCommand.self,
            BenchCommand.self,
            TokenizeCommand.self, RunCommand.self, AgentCommand.self, RefereeCommand.self,
        ]
    )
}
