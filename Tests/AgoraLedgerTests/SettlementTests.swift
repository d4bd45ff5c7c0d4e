import AgoraCore
import AgoraLedger
import Foundation
import Testing

@Suite struct SettlementTests {
    let chain = TestChain(accounts: 5)

    /// A job pays the model's shareholders their royalty split and the node the rest, from the payer's
    /// deposit, exactly and atomically.
    @Test func settlementPaysNodeAndShareholders() throws {
        let ledger = try chain.makeLedger()
        let (payer, node, author, coauthor) = (
            chain.accounts[0], chain.accounts[1], chain.accounts[2], chain.accounts[3]
        )
        let model = Hash256.of(Array("model bytes".utf8))
        let dataset = Hash256.of(Array("dataset bytes".utf8))
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    author, nonce: 1,
                    .registerDataset(
                        DatasetRegistration(
                            datasetHash: dataset, name: "corpus",
                            shares: [Share(holder: author.publicKey, basisPoints: 10_000)])))) == nil)
        let shares = [
            Share(holder: author.publicKey, basisPoints: 7_000), Share(holder: coauthor.publicKey, basisPoints: 3_000),
        ]
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    author, nonce: 2,
                    .registerModel(
                        ModelRegistration(
                            modelHash: model, name: "tiny", royaltyBasisPoints: 1_000, shares: shares,
                            datasets: [dataset])))) == nil)
        #expect(
            try ledger.submitOne(chain.transaction(payer, nonce: 1, .deposit(amount: Amount(microUnits: 10_000))))
                == nil)
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    node, nonce: 1,
                    .registerNode(
                        NodeRegistration(
                            endpoint: "http://127.0.0.1:8080", models: [model],
                            pricePerInputToken: Amount(microUnits: 1), pricePerOutputToken: Amount(microUnits: 2)))))
                == nil)

        let before = try chain.accounts.map { try ledger.account($0.publicKey) }
        let (voucher, receipt) = chain.job(
            payer: payer, node: node, jobID: Hash256.of([1]), model: model, amount: 1_003, max: 2_000)
        #expect(
            try ledger.submitOne(chain.transaction(node, nonce: 2, .settleJob(voucher: voucher, receipt: receipt)))
                == nil)

        // Royalty 10 % of 1003 = 100 (rounded down); 70 % → 70, 30 % → 30; node gets 903.
        #expect(try ledger.account(payer.publicKey).deposit.microUnits == before[0].deposit.microUnits - 1_003)
        #expect(try ledger.account(node.publicKey).balance.microUnits == before[1].balance.microUnits + 903)
        #expect(try ledger.account(author.publicKey).balance.microUnits == before[2].balance.microUnits + 70)
        #expect(try ledger.account(coauthor.publicKey).balance.microUnits == before[3].balance.microUnits + 30)
        let job = try #require(try ledger.job(Hash256.of([1])))
        #expect(job.royalty.microUnits == 100 && job.amount.microUnits == 1_003 && job.status == .settled)
        #expect(try ledger.model(model)?.royaltiesPaid.microUnits == 100)
        #expect(try ledger.node(node.publicKey)?.jobsSettled == 1)
        #expect(try ledger.node(node.publicKey)?.tokensServed == 30)
        #expect(try ledger.moneyHeld() == chain.supply)
    }

    @Test func royaltyDustGoesToTheFirstHolderAndSplitsAddUp() {
        let holders = (0..<3).map { SigningKey(deterministicLabel: "h\($0)").publicKey }.sorted()
        let shares = [
            Share(holder: holders[0], basisPoints: 3_333), Share(holder: holders[1], basisPoints: 3_333),
            Share(holder: holders[2], basisPoints: 3_334),
        ]
        for micro in [0, 1, 2, 99, 10_000, 123_456_789] as [UInt64] {
            let parts = ShareTable.split(Amount(microUnits: micro), among: shares)
            #expect(parts.reduce(UInt64(0)) { $0 + $1.1.microUnits } == micro)
        }
    }

    @Test func modelSharesCanBeTransferred() throws {
        let ledger = try chain.makeLedger()
        let model = Hash256.of([42])
        let (author, buyer) = (chain.accounts[0], chain.accounts[1])
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    author, nonce: 1,
                    .registerModel(
                        ModelRegistration(
                            modelHash: model, name: "m", royaltyBasisPoints: 500,
                            shares: [Share(holder: author.publicKey, basisPoints: 10_000)])))) == nil)
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    author, nonce: 2, .transferModelShares(model: model, to: buyer.publicKey, basisPoints: 2_500)))
                == nil)
        let record = try #require(try ledger.model(model))
        #expect(
            Set(record.shares) == [
                Share(holder: author.publicKey, basisPoints: 7_500), Share(holder: buyer.publicKey, basisPoints: 2_500),
            ])
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    buyer, nonce: 1, .transferModelShares(model: model, to: author.publicKey, basisPoints: 2_501)))
                == .insufficientShares(needed: 2_501, held: 2_500))
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    buyer, nonce: 1,
                    .registerModel(
                        ModelRegistration(
                            modelHash: model, name: "again", royaltyBasisPoints: 1,
                            shares: [Share(holder: buyer.publicKey, basisPoints: 10_000)]))))
                == .modelAlreadyRegistered(model))
    }

    /// A node found wrong loses half its stake (active, then unbonding); the payer is refunded, the
    /// challenger gets its bond back plus a bounty, the rest is burnt — and the supply still balances.
    @Test func challengeWithMeritSlashesTheNode() throws {
        let chain = TestChain(accounts: 5) { $0.unbondingDelayBlocks = 100 }
        let ledger = try chain.makeLedger()
        let (payer, node, challenger) = (chain.accounts[0], chain.accounts[1], chain.accounts[2])
        #expect(
            try ledger.submitOne(chain.transaction(payer, nonce: 1, .deposit(amount: Amount(microUnits: 10_000))))
                == nil)
        #expect(
            try ledger.submitOne(chain.transaction(node, nonce: 1, .stake(amount: Amount(microUnits: 1_000_000))))
                == nil)
        #expect(
            try ledger.submitOne(chain.transaction(node, nonce: 2, .unstake(amount: Amount(microUnits: 200_000))))
                == nil)
        let jobID = Hash256.of([5])
        let (voucher, receipt) = chain.job(
            payer: payer, node: node, jobID: jobID, model: Hash256.of([9]), amount: 4_000, max: 5_000)
        #expect(
            try ledger.submitOne(chain.transaction(node, nonce: 3, .settleJob(voucher: voucher, receipt: receipt)))
                == nil)
        let payerBefore = try ledger.account(payer.publicKey)
        let challengerBefore = try ledger.account(challenger.publicKey)
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    challenger, nonce: 1,
                    .fileChallenge(
                        jobID: jobID, claimedOutputHash: Hash256.of([0]), evidence: Hash256.of([1]),
                        revealedRequest: TestChain.request(jobID)))) == nil
        )
        #expect(
            try ledger.account(challenger.publicKey).balance.microUnits == challengerBefore.balance.microUnits - 10_000)
        #expect(try ledger.moneyHeld() == chain.supply)
        #expect(
            try ledger.submitOne(
                chain.transaction(chain.referee, nonce: 1, .resolveChallenge(jobID: jobID, nodeAtFault: true))) == nil)

        // Stake 800 000 + unbonding 200 000 → slashed 500 000: refund 4 000, bounty 248 000, burnt 248 000.
        let nodeAfter = try ledger.account(node.publicKey)
        #expect(nodeAfter.stake.microUnits == 300_000 && nodeAfter.unbonding.microUnits == 200_000)
        #expect(try ledger.account(payer.publicKey).balance.microUnits == payerBefore.balance.microUnits + 4_000)
        #expect(
            try ledger.account(challenger.publicKey).balance.microUnits == challengerBefore.balance.microUnits + 248_000
        )
        #expect(try ledger.totals().burnt.microUnits == 248_000)
        #expect(try ledger.job(jobID)?.status == .nodeSlashed)
        #expect(try ledger.moneyHeld() == chain.supply)
        #expect(
            try ledger.submitOne(
                chain.transaction(chain.referee, nonce: 2, .resolveChallenge(jobID: jobID, nodeAtFault: true)))
                == .challengeNotFound(jobID))
        _ = try ChainVerifier(directory: ledger.directory).verify()
    }

    @Test func challengeWithoutMeritCostsTheBond() throws {
        let ledger = try chain.makeLedger()
        let (payer, node, challenger) = (chain.accounts[0], chain.accounts[1], chain.accounts[2])
        #expect(
            try ledger.submitOne(chain.transaction(payer, nonce: 1, .deposit(amount: Amount(microUnits: 10_000))))
                == nil)
        let jobID = Hash256.of([6])
        let (voucher, receipt) = chain.job(
            payer: payer, node: node, jobID: jobID, model: Hash256.of([9]), amount: 4_000, max: 5_000)
        #expect(
            try ledger.submitOne(chain.transaction(node, nonce: 1, .settleJob(voucher: voucher, receipt: receipt)))
                == nil)
        let nodeBefore = try ledger.account(node.publicKey)
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    challenger, nonce: 1,
                    .fileChallenge(
                        jobID: jobID, claimedOutputHash: Hash256.of([0]), evidence: .zero,
                        revealedRequest: TestChain.request(jobID)))) == nil)
        #expect(
            try ledger.submitOne(
                chain.transaction(chain.referee, nonce: 1, .resolveChallenge(jobID: jobID, nodeAtFault: false))) == nil)
        #expect(try ledger.account(node.publicKey).balance.microUnits == nodeBefore.balance.microUnits + 10_000)
        #expect(try ledger.job(jobID)?.status == .challengeRejected)
        #expect(try ledger.moneyHeld() == chain.supply)
    }

    /// Unstaked stake and withdrawn deposit come back only after their delays; vouchers can still be settled
    /// against a deposit that is being withdrawn.
    @Test func unbondingAndWithdrawalReleaseAfterTheirDelays() throws {
        let ledger = try chain.makeLedger()
        let (payer, node) = (chain.accounts[0], chain.accounts[1])
        let start = try ledger.account(payer.publicKey).balance.microUnits
        #expect(
            try ledger.submitOne(chain.transaction(payer, nonce: 1, .stake(amount: Amount(microUnits: 500)))) == nil)
        // Block 2: unstake, released at block 4.
        #expect(
            try ledger.submitOne(chain.transaction(payer, nonce: 2, .unstake(amount: Amount(microUnits: 300)))) == nil)
        #expect(
            try ledger.submitOne(chain.transaction(payer, nonce: 3, .deposit(amount: Amount(microUnits: 1_000)))) == nil
        )
        // Block 4: withdraw, released at block 6.
        #expect(
            try ledger.submitOne(chain.transaction(payer, nonce: 4, .withdraw(amount: Amount(microUnits: 1_000))))
                == nil)
        var account = try ledger.account(payer.publicKey)
        #expect(account.unbonding.microUnits == 0 && account.balance.microUnits == start - 500 - 1_000 + 300)
        #expect(account.withdrawing.microUnits == 1_000)
        let (voucher, receipt) = chain.job(
            payer: payer, node: node, jobID: Hash256.of([3]), model: Hash256.of([9]), amount: 400, max: 400)
        #expect(
            try ledger.submitOne(chain.transaction(node, nonce: 1, .settleJob(voucher: voucher, receipt: receipt)))
                == nil)
        // Block 6 releases what is left of the withdrawal after the settlement.
        _ = try ledger.produceBlock([], timestamp: 1_700_000_002_000, allowEmpty: true)
        account = try ledger.account(payer.publicKey)
        #expect(account.deposit.microUnits == 0 && account.withdrawing.microUnits == 0)
        #expect(account.balance.microUnits == start - 500 + 300 - 400)
        #expect(try ledger.moneyHeld() == chain.supply)
    }
}
