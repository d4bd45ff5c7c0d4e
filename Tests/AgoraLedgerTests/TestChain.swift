import AgoraCore
import AgoraLedger
import Foundation

/// A small chain with known keys, used across the ledger tests.
struct TestChain {
    static let chainID = "agora-test"
    let sequencer = SigningKey(deterministicLabel: "test-sequencer")
    let referee = SigningKey(deterministicLabel: "test-referee")
    let accounts: [SigningKey]
    let genesis: Genesis

    init(accounts count: Int = 4, balance: UInt64 = 1_000_000_000, parameters: ((inout ChainParameters) -> Void)? = nil)
    {
        accounts = (0..<count).map { SigningKey(deterministicLabel: "test-account-\($0)") }
        var chainParameters = ChainParameters(
            chainID: Self.chainID, referee: referee.publicKey, unbondingDelayBlocks: 2, withdrawalDelayBlocks: 2,
            minimumNodeStake: Amount(microUnits: 1_000), challengeBond: Amount(microUnits: 10_000),
            challengeWindowBlocks: 5, slashBasisPoints: 5_000, challengerBountyBasisPoints: 5_000,
            settlementGraceSeconds: 60)
        parameters?(&chainParameters)
        genesis = Genesis(
            parameters: chainParameters, sequencer: sequencer.publicKey, timestamp: 1_700_000_000_000,
            allocations: accounts.map { Allocation(account: $0.publicKey, amount: Amount(microUnits: balance)) }
                + [Allocation(account: referee.publicKey, amount: Amount(microUnits: balance))])
    }

    var supply: UInt64 { (try? genesis.supply().microUnits) ?? 0 }

    /// A fresh ledger in a new temporary directory (real SQLite, WAL).
    func makeLedger() throws -> Ledger {
        try Ledger.create(at: Self.temporaryDirectory(), genesis: genesis, sequencerKey: sequencer)
    }

    static func temporaryDirectory() -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("agora-test-\(UUID().uuidString)")
    }

    func transaction(_ key: SigningKey, nonce: UInt64, _ body: TransactionBody) -> Transaction {
        Transaction.signed(by: key, chainID: Self.chainID, nonce: nonce, body: body)
    }

    /// The canonical request bytes of a test job (opaque to the ledger): what a challenge reveals.
    static func request(_ jobID: Hash256) -> [UInt8] { Array("request \(jobID.hex)".utf8) }

    /// A signed voucher from `payer` to `node` and the node's signed receipt for the same job; the input hash
    /// is that of `request(jobID)`.
    func job(
        payer: SigningKey, node: SigningKey, jobID: Hash256, model: Hash256, amount: UInt64, max: UInt64,
        expiry: UInt64 = 1_700_000_100
    ) -> (Voucher, JobReceipt) {
        let input = RevealedRequest.inputHash(modelHash: model, requestBytes: Self.request(jobID))
        let voucher = Voucher(
            chainID: Self.chainID, payer: payer.publicKey, payee: node.publicKey, jobID: jobID, modelHash: model,
            inputHash: input, maxAmount: Amount(microUnits: max), expiry: expiry
        ).signed(by: payer)
        let receipt = JobReceipt(
            chainID: Self.chainID, jobID: jobID, node: node.publicKey, payer: payer.publicKey, modelHash: model,
            inputHash: input, outputHash: Hash256.of(Array("output \(jobID.hex)".utf8)), inputTokens: 10,
            outputTokens: 20, amount: Amount(microUnits: amount), seed: 7, engineVersion: "test",
            timestamp: 1_700_000_000_000
        ).signed(by: node)
        return (voucher, receipt)
    }
}

extension Ledger {
    /// Commits one transaction and returns its refusal, if any.
    @discardableResult
    func submitOne(_ transaction: Transaction, timestamp: UInt64 = 1_700_000_001_000) throws -> TransactionError? {
        try produceBlock([transaction], timestamp: timestamp).rejected.first?.error
    }
}
