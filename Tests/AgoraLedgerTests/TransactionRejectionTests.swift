import AgoraCore
import AgoraLedger
import Foundation
import Testing

/// Every kind of bad transaction is refused with its own typed error and changes nothing: no block, the same
/// state root, the same balances.
@Suite struct TransactionRejectionTests {
    let chain = TestChain()

    private func expectRefused(
        _ ledger: Ledger, _ transaction: Transaction, _ expected: TransactionError,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let headBefore = ledger.head
        let accountsBefore = try chain.accounts.map { try ledger.account($0.publicKey) }
        let outcome = try ledger.produceBlock([transaction], timestamp: 1_700_000_001_000)
        #expect(outcome.block == nil, sourceLocation: sourceLocation)
        #expect(outcome.rejected.first?.error == expected, sourceLocation: sourceLocation)
        #expect(ledger.head == headBefore, sourceLocation: sourceLocation)
        #expect(
            try chain.accounts.map { try ledger.account($0.publicKey) } == accountsBefore,
            sourceLocation: sourceLocation)
        #expect(try ledger.moneyHeld() == chain.supply, sourceLocation: sourceLocation)
    }

    @Test func forgedSignatureIsRefused() throws {
        let ledger = try chain.makeLedger()
        var transaction = chain.transaction(
            chain.accounts[0], nonce: 1, .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 5)))
        // Signed by someone else but claiming to be account 0.
        transaction.signature = chain.accounts[2].sign(transaction.signingBytes)
        try expectRefused(ledger, transaction, .invalidSignature)
        // A valid signature over different content.
        var altered = chain.transaction(
            chain.accounts[0], nonce: 1, .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 5)))
        altered.body = .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 500))
        try expectRefused(ledger, altered, .invalidSignature)
    }

    @Test func wrongChainIsRefused() throws {
        let ledger = try chain.makeLedger()
        let transaction = Transaction.signed(
            by: chain.accounts[0], chainID: "other-chain", nonce: 1,
            body: .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 5)))
        try expectRefused(ledger, transaction, .wrongChain(expected: TestChain.chainID, got: "other-chain"))
    }

    @Test func replayedAndSkippedNoncesAreRefused() throws {
        let ledger = try chain.makeLedger()
        let first = chain.transaction(
            chain.accounts[0], nonce: 1, .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 5)))
        #expect(try ledger.submitOne(first) == nil)
        try expectRefused(ledger, first, .badNonce(expected: 2, got: 1))
        let skipped = chain.transaction(
            chain.accounts[0], nonce: 5, .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 5)))
        try expectRefused(ledger, skipped, .badNonce(expected: 2, got: 5))
    }

    @Test func overdraftIsRefused() throws {
        let ledger = try chain.makeLedger()
        let tooMuch = chain.transaction(
            chain.accounts[0], nonce: 1,
            .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 1_000_000_001)))
        try expectRefused(
            ledger, tooMuch,
            .insufficientBalance(
                needed: Amount(microUnits: 1_000_000_001), available: Amount(microUnits: 1_000_000_000)))
        try expectRefused(
            ledger, chain.transaction(chain.accounts[0], nonce: 1, .stake(amount: Amount(microUnits: 2_000_000_000))),
            .insufficientBalance(
                needed: Amount(microUnits: 2_000_000_000), available: Amount(microUnits: 1_000_000_000)))
        try expectRefused(
            ledger, chain.transaction(chain.accounts[0], nonce: 1, .unstake(amount: Amount(microUnits: 1))),
            .insufficientStake(needed: Amount(microUnits: 1), available: .zero))
        try expectRefused(
            ledger, chain.transaction(chain.accounts[0], nonce: 1, .withdraw(amount: Amount(microUnits: 1))),
            .insufficientDeposit(needed: Amount(microUnits: 1), available: .zero))
        try expectRefused(
            ledger,
            chain.transaction(chain.accounts[0], nonce: 1, .transfer(to: chain.accounts[1].publicKey, amount: .zero)),
            .zeroAmount)
    }

    @Test func shareTableNotSummingTo10000IsRefused() throws {
        let ledger = try chain.makeLedger()
        let shares = [
            Share(holder: chain.accounts[0].publicKey, basisPoints: 6_000),
            Share(holder: chain.accounts[1].publicKey, basisPoints: 3_999),
        ]
        let registration = ModelRegistration(
            modelHash: Hash256.of([1]), name: "m", royaltyBasisPoints: 1_000, shares: shares)
        try expectRefused(
            ledger, chain.transaction(chain.accounts[0], nonce: 1, .registerModel(registration)), .shareTableSum(9_999))
        let duplicate = ModelRegistration(
            modelHash: Hash256.of([1]), name: "m", royaltyBasisPoints: 1_000,
            shares: [
                Share(holder: chain.accounts[0].publicKey, basisPoints: 5_000),
                Share(holder: chain.accounts[0].publicKey, basisPoints: 5_000),
            ])
        try expectRefused(
            ledger, chain.transaction(chain.accounts[0], nonce: 1, .registerModel(duplicate)),
            .invalidShareTable("holder \(chain.accounts[0].publicKey) appears twice"))
        let dataset = DatasetRegistration(
            datasetHash: Hash256.of([2]), name: "d",
            shares: [Share(holder: chain.accounts[1].publicKey, basisPoints: 10_001)])
        try expectRefused(
            ledger, chain.transaction(chain.accounts[0], nonce: 1, .registerDataset(dataset)), .shareTableSum(10_001))
    }

    @Test func doubleSettleAndSettleAboveMaxAreRefused() throws {
        let ledger = try chain.makeLedger()
        let payer = chain.accounts[0]
        let node = chain.accounts[1]
        #expect(
            try ledger.submitOne(chain.transaction(payer, nonce: 1, .deposit(amount: Amount(microUnits: 1_000_000))))
                == nil)
        let jobID = Hash256.of([7])
        let (voucher, receipt) = chain.job(
            payer: payer, node: node, jobID: jobID, model: Hash256.of([9]), amount: 500, max: 1_000)
        #expect(
            try ledger.submitOne(chain.transaction(node, nonce: 1, .settleJob(voucher: voucher, receipt: receipt)))
                == nil)
        try expectRefused(
            ledger, chain.transaction(node, nonce: 2, .settleJob(voucher: voucher, receipt: receipt)),
            .jobAlreadySettled(jobID))

        let (voucher2, receipt2) = chain.job(
            payer: payer, node: node, jobID: Hash256.of([8]), model: Hash256.of([9]), amount: 1_001, max: 1_000)
        try expectRefused(
            ledger, chain.transaction(node, nonce: 2, .settleJob(voucher: voucher2, receipt: receipt2)),
            .amountAboveVoucherMax(amount: Amount(microUnits: 1_001), max: Amount(microUnits: 1_000)))
    }

    @Test func badVouchersAndReceiptsAreRefused() throws {
        let ledger = try chain.makeLedger()
        let payer = chain.accounts[0]
        let node = chain.accounts[1]
        #expect(
            try ledger.submitOne(chain.transaction(payer, nonce: 1, .deposit(amount: Amount(microUnits: 100)))) == nil)
        let model = Hash256.of([9])
        var (voucher, receipt) = chain.job(
            payer: payer, node: node, jobID: Hash256.of([1]), model: model, amount: 50, max: 100)
        var forgedVoucher = voucher
        forgedVoucher.maxAmount = Amount(microUnits: 1_000_000)
        try expectRefused(
            ledger, chain.transaction(node, nonce: 1, .settleJob(voucher: forgedVoucher, receipt: receipt)),
            .voucherSignatureInvalid)
        var forgedReceipt = receipt
        forgedReceipt.amount = Amount(microUnits: 60)
        try expectRefused(
            ledger, chain.transaction(node, nonce: 1, .settleJob(voucher: voucher, receipt: forgedReceipt)),
            .receiptSignatureInvalid)
        let otherNode = chain.accounts[2]
        let stolen = receipt.signed(by: otherNode)
        try expectRefused(
            ledger, chain.transaction(otherNode, nonce: 1, .settleJob(voucher: voucher, receipt: stolen)),
            .voucherReceiptMismatch("node"))
        (voucher, receipt) = chain.job(
            payer: payer, node: node, jobID: Hash256.of([2]), model: model, amount: 50, max: 100, expiry: 1_000)
        try expectRefused(
            ledger, chain.transaction(node, nonce: 1, .settleJob(voucher: voucher, receipt: receipt)),
            .voucherExpired(expiry: 1_000, blockTime: 1_700_000_001))
        (voucher, receipt) = chain.job(
            payer: payer, node: node, jobID: Hash256.of([3]), model: model, amount: 150, max: 200)
        try expectRefused(
            ledger, chain.transaction(node, nonce: 1, .settleJob(voucher: voucher, receipt: receipt)),
            .insufficientDeposit(needed: Amount(microUnits: 150), available: Amount(microUnits: 100)))
    }

    @Test func onlyTheRefereeResolvesAndWindowsClose() throws {
        let ledger = try chain.makeLedger()
        let payer = chain.accounts[0]
        let node = chain.accounts[1]
        #expect(
            try ledger.submitOne(chain.transaction(payer, nonce: 1, .deposit(amount: Amount(microUnits: 1_000)))) == nil
        )
        let jobID = Hash256.of([4])
        let (voucher, receipt) = chain.job(
            payer: payer, node: node, jobID: jobID, model: Hash256.of([9]), amount: 100, max: 100)
        #expect(
            try ledger.submitOne(chain.transaction(node, nonce: 1, .settleJob(voucher: voucher, receipt: receipt)))
                == nil)
        try expectRefused(
            ledger,
            chain.transaction(
                chain.accounts[2], nonce: 1,
                .fileChallenge(
                    jobID: jobID, claimedOutputHash: receipt.outputHash, evidence: .zero,
                    revealedRequest: TestChain.request(jobID))),
            .challengeClaimsSameOutput)
        try expectRefused(
            ledger, chain.transaction(chain.accounts[2], nonce: 1, .resolveChallenge(jobID: jobID, nodeAtFault: true)),
            .notReferee)
        try expectRefused(
            ledger, chain.transaction(chain.referee, nonce: 1, .resolveChallenge(jobID: jobID, nodeAtFault: true)),
            .challengeNotFound(jobID))
        for _ in 0..<6 { _ = try ledger.produceBlock([], timestamp: 1_700_000_002_000, allowEmpty: true) }
        try expectRefused(
            ledger,
            chain.transaction(
                chain.accounts[2], nonce: 1,
                .fileChallenge(
                    jobID: jobID, claimedOutputHash: Hash256.of([0]), evidence: .zero,
                    revealedRequest: TestChain.request(jobID))),
            .challengeWindowClosed(jobID: jobID, closedAt: 7))
    }

    @Test func refusedTransactionsInAMixedBlockLeaveTheOthersApplied() throws {
        let ledger = try chain.makeLedger()
        let good = chain.transaction(
            chain.accounts[0], nonce: 1, .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 10)))
        let bad = chain.transaction(
            chain.accounts[2], nonce: 1,
            .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 10_000_000_000)))
        let good2 = chain.transaction(
            chain.accounts[0], nonce: 2, .transfer(to: chain.accounts[3].publicKey, amount: Amount(microUnits: 20)))
        let outcome = try ledger.produceBlock([good, bad, good2])
        #expect(outcome.accepted == [good.id, good2.id])
        #expect(outcome.rejected.map(\.id) == [bad.id])
        #expect(try ledger.account(chain.accounts[2].publicKey).nonce == 0)
        #expect(try ledger.account(chain.accounts[0].publicKey).balance.microUnits == 1_000_000_000 - 30)
        #expect(try ChainVerifier(directory: ledger.directory).verify().transactions == 2)
    }
}
