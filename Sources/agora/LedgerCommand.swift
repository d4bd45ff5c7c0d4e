import ArgumentParser

/// `agora ledger …`: the embedded ledger.
struct LedgerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ledger",
        abstract: "Create, use, inspect, verify and benchmark the embedded ledger.",
        subcommands: [
            LedgerInitCommand.self, TransferCommand.self, DepositCommand.self, WithdrawCommand.self,
            StakeCommand.self, UnstakeCommand.self, RegisterNodeCommand.self, RegisterModelCommand.self,
            RegisterDatasetCommand.self, TransferSharesCommand.self, ChallengeCommand.self, ResolveCommand.self,
            TickCommand.self, LedgerShowCommand.self, LedgerVerifyCommand.self, LedgerBenchCommand.self,
            LedgerServeCommand.self, LedgerStressCommand.self, RegisterOfferCommand.self, UpdateOfferCommand.self,
            RetireOfferCommand.self,
        ]
    )
}
