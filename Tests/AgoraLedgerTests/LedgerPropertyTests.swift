import AgoraCore
import AgoraLedger
import Foundation
import PropertyBased
import Testing

/// Random transaction sequences against the state machine. Each UInt64 of the generated input is one
/// operation: its bits pick the kind, the accounts, the amount and whether the nonce is deliberately wrong.
@Suite struct LedgerPropertyTests {
    static let chain = TestChain(accounts: 5, balance: 1_000_000)
    static let model = Hash256.of(Array("property-model".utf8))

    /// What one run produced: the blocks of accepted transactions, in order, and the final state root.
    struct Run {
        var blocks: [[Transaction]] = []
        var root = Hash256.zero
        var backend = InMemoryStateBackend()
    }

    /// Builds one operation. Transactions are left unsigned and applied with `signatureVerified`, because
    /// signing 10 000 sequences in a debug build would dominate the suite; signatures have their own tests and
    /// the SQLite replay test below signs everything. Vouchers and receipts are signed (the executor checks them).
    static func operation(_ bits: UInt64, nonces: inout [Int: UInt64], settled: [Hash256]) -> Transaction? {
        let chain = Self.chain
        let kind = Int(bits % 13)
        let sender = Int((bits >> 8) % 5)
        let other = Int((bits >> 16) % 5)
        let amount = Amount(microUnits: (bits >> 24) % 400_000)
        let wrongNonce = (bits >> 48) % 8 == 0
        let key = chain.accounts[sender]
        let body: TransactionBody
        switch kind {
        case 0, 1: body = .transfer(to: chain.accounts[other].publicKey, amount: amount)
        case 2: body = .deposit(amount: amount)
        case 3: body = .withdraw(amount: amount)
        case 4: body = .stake(amount: amount)
        case 5: body = .unstake(amount: amount)
        case 6:
            let jobID = Hash256.of([UInt8((bits >> 40) % 6)])  // few ids, so double settles happen
            let (voucher, receipt) = chain.job(
                payer: chain.accounts[other], node: key, jobID: jobID, model: model, amount: amount.microUnits % 50_000,
                max: 40_000)
            body = .settleJob(voucher: voucher, receipt: receipt)
        case 7:
            guard let job = settled.randomElement() else { return nil }
            // Mostly the true request; sometimes another one (refused: it does not hash to the job's input).
            let revealed = bits & 0x300 == 0 ? [UInt8(bits & 0xff)] : TestChain.request(job)
            body = .fileChallenge(
                jobID: job, claimedOutputHash: Hash256.of([UInt8(bits & 0xff)]), evidence: .zero,
                revealedRequest: revealed)
        case 10:
            // Few names, so duplicates happen; sometimes an unregistered model or a dependency on another offer.
            let name = "offer-\((bits >> 40) % 3)"
            body = .registerOffer(offer(name, bits: bits, seller: other), bond: amount)
        case 11:
            let name = "offer-\((bits >> 40) % 3)"
            // Usually the sender's own offer; sometimes another seller's (refused: not the seller).
            let seller = bits & 0x400 == 0 ? key.publicKey : chain.accounts[other].publicKey
            body = .updateOffer(
                offer: OfferRegistration.id(seller: seller, name: name), offer(name, bits: bits, seller: other),
                addedBond: Amount(microUnits: amount.microUnits % 1_000))
        case 12:
            let seller = bits & 0x400 == 0 ? key.publicKey : chain.accounts[other].publicKey
            body = .retireOffer(offer: OfferRegistration.id(seller: seller, name: "offer-\((bits >> 40) % 3)"))
        case 8:
            guard let job = settled.last else { return nil }
            let nonce = nonces[-1, default: 0] + 1
            nonces[-1] = nonce
            return Transaction(
                chainID: TestChain.chainID, sender: chain.referee.publicKey, nonce: nonce,
                body: .resolveChallenge(jobID: job, nodeAtFault: bits & 1 == 0))
        default:
            let shares = [
                Share(holder: key.publicKey, basisPoints: UInt16(5_000 + (bits >> 32) % 3)),
                Share(holder: chain.accounts[(sender + 1) % 5].publicKey, basisPoints: 5_000),
            ]
            body = .registerModel(
                ModelRegistration(
                    modelHash: Hash256.of([UInt8(bits >> 56)]), name: "m",
                    royaltyBasisPoints: UInt16((bits >> 20) % 3_000),
                    shares: shares))
        }
        let next = nonces[sender, default: 0] + 1
        let nonce = wrongNonce ? next + (bits >> 52) % 3 &- 1 : next
        if !wrongNonce { nonces[sender] = next }
        return Transaction(chainID: TestChain.chainID, sender: key.publicKey, nonce: nonce, body: body)
    }

    /// An offer named `name`; its bits pick an unregistered model, a dependency on `seller`'s first offer, or an
    /// empty name (each refused unless that offer is live).
    static func offer(_ name: String, bits: UInt64, seller: Int) -> OfferRegistration {
        let dependency = OfferRegistration.id(seller: chain.accounts[seller].publicKey, name: "offer-0")
        return OfferRegistration(
            name: bits & 0x3000 == 0x3000 ? "" : name, description: "a property offer", tags: ["test"],
            inputSchema: #"{"type":"object"}"#, outputSchema: #"{"type":"string"}"#,
            pricing: bits & 1 == 0 ? .perCall(Amount(microUnits: 10)) : .perToken(Amount(microUnits: 1)),
            models: [bits & 0x800 == 0 ? model : Hash256.of([9])], offers: bits & 0x1000 == 0 ? [] : [dependency],
            verification: .reexecute(pipeline: .zero), endpoint: "http://127.0.0.1:9000")
    }

    /// Applies the genesis state to an empty in-memory backend.
    static func genesisBackend() throws -> (InMemoryStateBackend, StateAccumulator) {
        let backend = InMemoryStateBackend()
        let state = WorkingState(backend: backend)
        try state.setRecord(.totals, LedgerTotals(supply: try chain.genesis.supply()))
        for allocation in chain.genesis.allocations {
            var account = AccountState()
            account.balance = allocation.amount
            try state.setRecord(.account(allocation.account), account)
        }
        var accumulator = StateAccumulator()
        let changes = state.changes
        accumulator.apply(changes)
        backend.apply(changes)
        return (backend, accumulator)
    }

    static func heldTotal(_ backend: InMemoryStateBackend) throws -> UInt64 {
        try backend.storage.reduce(UInt64(0)) { $0 + (try MoneyAudit.held(key: $1.key, value: $1.value)) }
    }

    static func execute(_ ops: [UInt64]) throws -> Run {
        let executor = TransactionExecutor(parameters: chain.genesis.parameters)
        var (backend, accumulator) = try genesisBackend()
        var run = Run()
        var nonces: [Int: UInt64] = [:]
        var settled: [Hash256] = []
        var height: UInt64 = 1
        var state = WorkingState(backend: backend)
        var block: [Transaction] = []
        let supply = chain.supply
        // Every sequence starts by registering the model its settlements use, so royalties are paid.
        let author = chain.accounts[0]
        let registration = Transaction(
            chainID: TestChain.chainID, sender: author.publicKey, nonce: 1,
            body: .registerModel(
                ModelRegistration(
                    modelHash: model, name: "p", royaltyBasisPoints: 1_500,
                    shares: [Share(holder: author.publicKey, basisPoints: 10_000)])))
        try executor.apply(
            registration, in: BlockContext(height: 1, timestamp: 1_700_000_001_000), to: state, signatureVerified: true)
        block.append(registration)
        nonces[0] = 1

        func seal() throws {
            let changes = state.changes
            try MoneyAudit.checkBalanced(changes)
            accumulator.apply(changes)
            backend.apply(changes)
            #expect(try heldTotal(backend) == supply, "money is conserved after every block")
            run.blocks.append(block)
            block = []
            height += 1
            state = WorkingState(backend: backend)
            try executor.releaseMatured(in: BlockContext(height: height, timestamp: 1_700_000_001_000), on: state)
        }

        for (index, bits) in ops.enumerated() {
            if index > 0 && bits % 7 == 0 { try seal() }
            guard let transaction = operation(bits, nonces: &nonces, settled: settled) else { continue }
            let senderBefore = try state.record(.account(transaction.sender), as: AccountState.self) ?? AccountState()
            do {
                try executor.apply(
                    transaction, in: BlockContext(height: height, timestamp: 1_700_000_001_000), to: state,
                    signatureVerified: true)
                #expect(transaction.nonce == senderBefore.nonce + 1, "accepted nonces strictly increase by one")
                block.append(transaction)
                if case .settleJob(let voucher, _) = transaction.body { settled.append(voucher.jobID) }
            } catch {
                let after = try state.record(.account(transaction.sender), as: AccountState.self) ?? AccountState()
                #expect(after == senderBefore, "a refused transaction changes nothing")
                if case .transfer(_, let amount) = transaction.body, transaction.nonce == senderBefore.nonce + 1,
                    !amount.isZero
                {
                    #expect(error == .insufficientBalance(needed: amount, available: senderBefore.balance))
                    #expect(amount > senderBefore.balance, "only overdrafts are refused")
                }
                if transaction.nonce != senderBefore.nonce + 1 {
                    #expect(error == .badNonce(expected: senderBefore.nonce + 1, got: transaction.nonce))
                }
            }
            // Nothing is ever held beyond the supply (no wrapped or negative balance).
            #expect(senderBefore.total <= supply)
        }
        try seal()
        run.root = accumulator.root
        run.backend = backend
        return run
    }

    /// Replays only the accepted transactions, block by block, on a fresh state.
    static func replay(_ blocks: [[Transaction]]) throws -> Hash256 {
        let executor = TransactionExecutor(parameters: chain.genesis.parameters)
        var (backend, accumulator) = try genesisBackend()
        var height: UInt64 = 1
        var state = WorkingState(backend: backend)
        for block in blocks {
            for transaction in block {
                try executor.apply(
                    transaction, in: BlockContext(height: height, timestamp: 1_700_000_001_000), to: state,
                    signatureVerified: true)
            }
            let changes = state.changes
            accumulator.apply(changes)
            backend.apply(changes)
            height += 1
            state = WorkingState(backend: backend)
            try executor.releaseMatured(in: BlockContext(height: height, timestamp: 1_700_000_001_000), on: state)
        }
        return accumulator.root
    }

    @Test func randomSequencesConserveMoneyAndReplayToTheSameRoot() async {
        await propertyCheck(count: 10_000, input: Gen.uint64().array(of: 1...12)) { ops in
            let run = try Self.execute(ops)
            #expect(try Self.replay(run.blocks) == run.root)
            // Final nonces equal the number of accepted transactions per sender.
            var counts: [PublicKey: UInt64] = [:]
            for transaction in run.blocks.joined() { counts[transaction.sender, default: 0] += 1 }
            for (sender, count) in counts {
                let account = try AccountState(
                    canonicalBytes: try #require(run.backend.storage[StateKey.account(sender).bytes]))
                #expect(account.nonce == count)
            }
        }
    }

    /// The same kind of random sequences, signed, through the real SQLite ledger and the full verifier.
    @Test func signedSequencesThroughSQLiteVerify() async throws {
        await propertyCheck(count: 25, input: Gen.uint64().array(of: 5...40)) { ops in
            let run = try Self.execute(ops)
            let ledger = try Self.chain.makeLedger()
            var nonces: [PublicKey: UInt64] = [:]
            for block in run.blocks {
                let signed = block.map { transaction -> Transaction in
                    let key = ([Self.chain.referee] + Self.chain.accounts).first { $0.publicKey == transaction.sender }!
                    let nonce = nonces[transaction.sender, default: 0] + 1
                    nonces[transaction.sender] = nonce
                    return Transaction.signed(by: key, chainID: TestChain.chainID, nonce: nonce, body: transaction.body)
                }
                let outcome = try ledger.produceBlock(signed, timestamp: 1_700_000_001_000, allowEmpty: true)
                #expect(outcome.rejected.isEmpty)
            }
            #expect(ledger.head.header.stateRoot == run.root, "SQLite and in-memory execution reach the same state")
            let report = try ChainVerifier(directory: ledger.directory).verify()
            #expect(report.supply.microUnits == Self.chain.supply)
            #expect(try ledger.moneyHeld() == Self.chain.supply)
            try? FileManager.default.removeItem(at: ledger.directory)
        }
    }
}
