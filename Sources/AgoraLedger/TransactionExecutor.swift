import AgoraCore

/// Where in the chain a transaction is applied.
public struct BlockContext: Sendable {
    public var height: UInt64
    /// Unix milliseconds of the block.
    public var timestamp: UInt64

    public init(height: UInt64, timestamp: UInt64) {
        self.height = height
        self.timestamp = timestamp
    }
}

/// The ledger's state machine: applies one transaction to the working state, or refuses it and leaves the
/// state exactly as it was. Deterministic: it reads nothing but the state, the transaction and the block
/// context, so every replay reaches the same state.
public struct TransactionExecutor: Sendable {
    public let parameters: ChainParameters

    public init(parameters: ChainParameters) { self.parameters = parameters }

    /// Applies `transaction` atomically. `signatureVerified` lets the caller verify signatures in parallel
    /// beforehand; everything else is checked here.
    public func apply(
        _ transaction: Transaction, in context: BlockContext, to state: WorkingState, signatureVerified: Bool = false
    ) throws(TransactionError) {
        state.beginTransaction()
        do {
            try execute(transaction, in: context, on: state, signatureVerified: signatureVerified)
        } catch {
            state.rollbackTransaction()
            throw error
        }
        state.commitTransaction()
    }

    /// Releases the unbonding stake and withdrawals that mature at this block's height. Runs before the
    /// block's transactions.
    public func releaseMatured(in context: BlockContext, on state: WorkingState) throws(TransactionError) {
        for entry in try state.entries(withPrefix: StateKey.unbondingPrefix(releaseHeight: context.height)) {
            let key: StateKey
            let claim: UnbondingEntry
            do {
                key = try StateKey(bytes: entry.key)
                claim = try UnbondingEntry(canonicalBytes: entry.value)
            } catch { throw .storage("undecodable unbonding entry: \(error)") }
            guard case .unbonding(_, let owner, let kind) = key else { continue }
            var account = try accountState(owner, state)
            // Slashing may have reduced what is still owed: release at most what remains.
            if kind == UnbondingEntry.Kind.stake.rawValue {
                let released = Amount.min(claim.amount, account.unbonding)
                account.unbonding = try sub(account.unbonding, released, .stake)
                account.balance = try add(account.balance, released)
            } else {
                let released = Amount.min(Amount.min(claim.amount, account.withdrawing), account.deposit)
                account.withdrawing = try sub(
                    account.withdrawing, Amount.min(claim.amount, account.withdrawing), .deposit)
                account.deposit = try sub(account.deposit, released, .deposit)
                account.balance = try add(account.balance, released)
            }
            try state.setRecord(.account(owner), account)
            try state.set(key, nil)
        }
    }

    private func execute(
        _ tx: Transaction, in context: BlockContext, on state: WorkingState, signatureVerified: Bool
    ) throws(TransactionError) {
        guard tx.chainID == parameters.chainID else { throw .wrongChain(expected: parameters.chainID, got: tx.chainID) }
        guard signatureVerified || tx.hasValidSignature else { throw .invalidSignature }
        var sender = try accountState(tx.sender, state)
        guard tx.nonce == sender.nonce &+ 1, sender.nonce < UInt64.max else {
            throw .badNonce(expected: sender.nonce &+ 1, got: tx.nonce)
        }
        sender.nonce += 1

        switch tx.body {
        case .transfer(let to, let amount):
            try requirePositive(amount)
            sender.balance = try sub(sender.balance, amount, .balance)
            try state.setRecord(.account(tx.sender), sender)
            var recipient = try accountState(to, state)
            recipient.balance = try add(recipient.balance, amount)
            try state.setRecord(.account(to), recipient)
            return

        case .deposit(let amount):
            try requirePositive(amount)
            sender.balance = try sub(sender.balance, amount, .balance)
            sender.deposit = try add(sender.deposit, amount)

        case .withdraw(let amount):
            try requirePositive(amount)
            let free = try sub(sender.deposit, sender.withdrawing, .deposit)
            guard amount <= free else { throw .insufficientDeposit(needed: amount, available: free) }
            sender.withdrawing = try add(sender.withdrawing, amount)
            try addUnbonding(
                owner: tx.sender, kind: .deposit, amount: amount,
                at: context.height &+ parameters.withdrawalDelayBlocks, state)

        case .stake(let amount):
            try requirePositive(amount)
            sender.balance = try sub(sender.balance, amount, .balance)
            sender.stake = try add(sender.stake, amount)

        case .unstake(let amount):
            try requirePositive(amount)
            sender.stake = try sub(sender.stake, amount, .stake)
            sender.unbonding = try add(sender.unbonding, amount)
            try addUnbonding(
                owner: tx.sender, kind: .stake, amount: amount,
                at: context.height &+ parameters.unbondingDelayBlocks, state)

        case .registerNode(let registration):
            try registerNode(tx.sender, registration, context, state)

        case .registerModel(let registration):
            try registerModel(tx.sender, registration, context, state)

        case .transferModelShares(let model, let to, let basisPoints):
            try transferShares(from: tx.sender, model: model, to: to, basisPoints: basisPoints, state)

        case .registerDataset(let registration):
            guard try state.value(.dataset(registration.datasetHash)) == nil else {
                throw .datasetAlreadyRegistered(registration.datasetHash)
            }
            guard !registration.name.isEmpty else { throw .invalidRegistration("a dataset needs a name") }
            let shares = try ShareTable.normalized(registration.shares)
            try state.setRecord(
                .dataset(registration.datasetHash),
                DatasetRecord(
                    owner: tx.sender, name: registration.name, shares: shares, registeredHeight: context.height))

        case .settleJob(let voucher, let receipt):
            try state.setRecord(.account(tx.sender), sender)
            try settle(voucher, receipt, context, state)
            return

        case .fileChallenge(let jobID, let claimedOutputHash, let evidence, let revealedRequest):
            guard var job = try state.record(.job(jobID), as: JobRecord.self) else { throw .jobNotFound(jobID) }
            let closesAt = job.settledHeight &+ parameters.challengeWindowBlocks
            guard context.height <= closesAt else { throw .challengeWindowClosed(jobID: jobID, closedAt: closesAt) }
            guard job.status == .settled else { throw .challengeAlreadyFiled(jobID) }
            guard claimedOutputHash != job.outputHash else { throw .challengeClaimsSameOutput }
            guard RevealedRequest.inputHash(modelHash: job.modelHash, requestBytes: revealedRequest) == job.inputHash
            else { throw .revealedRequestMismatch }
            sender.balance = try sub(sender.balance, parameters.challengeBond, .balance)
            job.status = .challenged
            try state.setRecord(.job(jobID), job)
            try state.setRecord(
                .challenge(jobID),
                ChallengeRecord(
                    challenger: tx.sender, claimedOutputHash: claimedOutputHash, evidence: evidence,
                    bond: parameters.challengeBond, filedHeight: context.height, revealedRequest: revealedRequest))

        case .resolveChallenge(let jobID, let nodeAtFault):
            guard tx.sender == parameters.referee else { throw .notReferee }
            try state.setRecord(.account(tx.sender), sender)
            try resolveChallenge(jobID: jobID, nodeAtFault: nodeAtFault, state)
            return

        case .registerOffer(let registration, let bond):
            try requirePositive(bond)
            try registration.validate()
            let id = OfferRegistration.id(seller: tx.sender, name: registration.name)
            guard try state.value(.offer(id)) == nil else { throw .offerAlreadyRegistered(id) }
            try checkOfferDependencies(registration, of: id, state)
            sender.balance = try sub(sender.balance, bond, .balance)
            try state.setRecord(
                .offer(id),
                OfferRecord(seller: tx.sender, registration: registration, bond: bond, registeredHeight: context.height)
            )

        case .updateOffer(let id, let registration, let addedBond):
            var record = try liveOffer(id, soldBy: tx.sender, state)
            guard registration.name == record.registration.name else {
                throw .invalidRegistration("an offer's name makes its id: register a new offer to rename it")
            }
            try registration.validate()
            try checkOfferDependencies(registration, of: id, state)
            if !addedBond.isZero {
                sender.balance = try sub(sender.balance, addedBond, .balance)
                record.bond = try add(record.bond, addedBond)
            }
            record.registration = registration
            try state.setRecord(.offer(id), record)

        case .retireOffer(let id):
            var record = try liveOffer(id, soldBy: tx.sender, state)
            if !record.bond.isZero {
                sender.unbonding = try add(sender.unbonding, record.bond)
                try addUnbonding(
                    owner: tx.sender, kind: .stake, amount: record.bond,
                    at: context.height &+ parameters.unbondingDelayBlocks, state)
            }
            record.bond = .zero
            record.retiredHeight = context.height
            try state.setRecord(.offer(id), record)
        }
        try state.setRecord(.account(tx.sender), sender)
    }

    // MARK: Registry

    /// The live offer `id`, which `seller` must be selling.
    private func liveOffer(_ id: Hash256, soldBy seller: PublicKey, _ state: WorkingState) throws(TransactionError)
        -> OfferRecord
    {
        guard let record = try state.record(.offer(id), as: OfferRecord.self) else { throw .offerNotFound(id) }
        guard record.seller == seller else { throw .notOfferSeller(id) }
        guard record.isLive else { throw .offerRetired(id) }
        return record
    }

    /// An offer's models must be registered and the offers it hires (and its evaluator) live and not itself.
    private func checkOfferDependencies(
        _ registration: OfferRegistration, of id: Hash256, _ state: WorkingState
    ) throws(TransactionError) {
        for model in registration.models where try state.value(.model(model)) == nil {
            throw .modelNotFound(model)
        }
        var needed = registration.offers
        if case .evaluator(let evaluator) = registration.verification { needed.append(evaluator) }
        for offer in needed {
            guard offer != id else { throw .invalidRegistration("an offer cannot depend on or judge itself") }
            guard let record = try state.record(.offer(offer), as: OfferRecord.self) else {
                throw .offerNotFound(offer)
            }
            guard record.isLive else { throw .offerRetired(offer) }
        }
    }

    private func registerNode(
        _ sender: PublicKey, _ registration: NodeRegistration, _ context: BlockContext, _ state: WorkingState
    ) throws(TransactionError) {
        guard !registration.endpoint.isEmpty else { throw .invalidRegistration("a node needs an endpoint") }
        guard Set(registration.models).count == registration.models.count else {
            throw .invalidRegistration("a model is listed twice")
        }
        if var existing = try state.record(.node(sender), as: NodeRecord.self) {
            existing.registration = registration
            try state.setRecord(.node(sender), existing)
        } else {
            try state.setRecord(.node(sender), NodeRecord(registration: registration, registeredHeight: context.height))
        }
    }

    private func registerModel(
        _ sender: PublicKey, _ registration: ModelRegistration, _ context: BlockContext, _ state: WorkingState
    ) throws(TransactionError) {
        guard try state.value(.model(registration.modelHash)) == nil else {
            throw .modelAlreadyRegistered(registration.modelHash)
        }
        guard !registration.name.isEmpty else { throw .invalidRegistration("a model needs a name") }
        guard registration.royaltyBasisPoints <= 10_000 else { throw .invalidRoyalty(registration.royaltyBasisPoints) }
        guard Set(registration.datasets).count == registration.datasets.count else {
            throw .invalidRegistration("a dataset is listed twice")
        }
        for dataset in registration.datasets where try state.value(.dataset(dataset)) == nil {
            throw .datasetNotFound(dataset)
        }
        let shares = try ShareTable.normalized(registration.shares)
        try state.setRecord(
            .model(registration.modelHash),
            ModelRecord(owner: sender, registration: registration, shares: shares, registeredHeight: context.height))
    }

    private func transferShares(
        from sender: PublicKey, model: Hash256, to: PublicKey, basisPoints: UInt16, _ state: WorkingState
    ) throws(TransactionError) {
        guard basisPoints > 0 else { throw .zeroAmount }
        guard var record = try state.record(.model(model), as: ModelRecord.self) else { throw .modelNotFound(model) }
        let held = record.shares.first { $0.holder == sender }?.basisPoints ?? 0
        guard held >= basisPoints else { throw .insufficientShares(needed: basisPoints, held: held) }
        var table: [PublicKey: UInt16] = [:]
        for share in record.shares { table[share.holder] = share.basisPoints }
        table[sender] = held - basisPoints
        table[to, default: 0] += basisPoints
        let shares = table.filter { $0.value > 0 }.map { Share(holder: $0.key, basisPoints: $0.value) }
        record.shares = try ShareTable.normalized(shares)
        try state.setRecord(.model(model), record)
    }

    // MARK: Jobs

    private func settle(
        _ voucher: Voucher, _ receipt: JobReceipt, _ context: BlockContext, _ state: WorkingState
    ) throws(TransactionError) {
        guard voucher.chainID == parameters.chainID else {
            throw .wrongChain(expected: parameters.chainID, got: voucher.chainID)
        }
        guard receipt.chainID == parameters.chainID else {
            throw .wrongChain(expected: parameters.chainID, got: receipt.chainID)
        }
        guard voucher.hasValidSignature else { throw .voucherSignatureInvalid }
        guard receipt.hasValidSignature else { throw .receiptSignatureInvalid }
        guard receipt.jobID == voucher.jobID else { throw .voucherReceiptMismatch("job id") }
        guard receipt.node == voucher.payee else { throw .voucherReceiptMismatch("node") }
        guard receipt.payer == voucher.payer else { throw .voucherReceiptMismatch("payer") }
        guard receipt.modelHash == voucher.modelHash else { throw .voucherReceiptMismatch("model") }
        guard receipt.inputHash == voucher.inputHash else { throw .voucherReceiptMismatch("input") }
        guard receipt.amount <= voucher.maxAmount else {
            throw .amountAboveVoucherMax(amount: receipt.amount, max: voucher.maxAmount)
        }
        let blockSeconds = context.timestamp / 1000
        guard blockSeconds <= voucher.expiry &+ parameters.settlementGraceSeconds else {
            throw .voucherExpired(expiry: voucher.expiry, blockTime: blockSeconds)
        }
        guard try state.value(.job(voucher.jobID)) == nil else { throw .jobAlreadySettled(voucher.jobID) }

        var payer = try accountState(voucher.payer, state)
        guard receipt.amount <= payer.deposit else {
            throw .insufficientDeposit(needed: receipt.amount, available: payer.deposit)
        }
        payer.deposit = try sub(payer.deposit, receipt.amount, .deposit)
        payer.withdrawing = Amount.min(payer.withdrawing, payer.deposit)
        try state.setRecord(.account(voucher.payer), payer)

        // Royalties go to the model's shareholders when the model is registered; the node keeps the rest.
        var royalty = Amount.zero
        if var model = try state.record(.model(receipt.modelHash), as: ModelRecord.self) {
            royalty = receipt.amount.basisPoints(model.royaltyBasisPoints)
            for (holder, part) in ShareTable.split(royalty, among: model.shares) where !part.isZero {
                try credit(holder, part, state)
            }
            model.jobs += 1
            model.royaltiesPaid = try add(model.royaltiesPaid, royalty)
            try state.setRecord(.model(receipt.modelHash), model)
        }
        let nodeShare = try sub(receipt.amount, royalty, .balance)
        try credit(receipt.node, nodeShare, state)
        if var node = try state.record(.node(receipt.node), as: NodeRecord.self) {
            node.jobsSettled += 1
            node.tokensServed &+= UInt64(receipt.inputTokens) + UInt64(receipt.outputTokens)
            node.earned = try add(node.earned, nodeShare)
            try state.setRecord(.node(receipt.node), node)
        }
        try state.setRecord(
            .job(voucher.jobID), JobRecord(receipt: receipt, royalty: royalty, settledHeight: context.height))
    }

    /// The referee's verdict. Node at fault: part of its stake (active, then unbonding) is slashed; the payer
    /// gets the job's price back from it, the challenger a bounty from the rest, and what remains is burnt.
    /// The challenger's bond is returned. No merit: the bond goes to the node.
    private func resolveChallenge(jobID: Hash256, nodeAtFault: Bool, _ state: WorkingState) throws(TransactionError) {
        guard var challenge = try state.record(.challenge(jobID), as: ChallengeRecord.self), challenge.isOpen else {
            throw .challengeNotFound(jobID)
        }
        guard var job = try state.record(.job(jobID), as: JobRecord.self) else { throw .jobNotFound(jobID) }
        challenge.isOpen = false
        try state.setRecord(.challenge(jobID), challenge)

        guard nodeAtFault else {
            job.status = .challengeRejected
            try state.setRecord(.job(jobID), job)
            try credit(job.node, challenge.bond, state)
            return
        }
        job.status = .nodeSlashed
        try state.setRecord(.job(jobID), job)

        var node = try accountState(job.node, state)
        let slashable = try add(node.stake, node.unbonding)
        let slashed = slashable.basisPoints(parameters.slashBasisPoints)
        let fromStake = Amount.min(slashed, node.stake)
        node.stake = try sub(node.stake, fromStake, .stake)
        node.unbonding = try sub(node.unbonding, try sub(slashed, fromStake, .stake), .stake)
        try state.setRecord(.account(job.node), node)
        if var record = try state.record(.node(job.node), as: NodeRecord.self) {
            record.challengesLost += 1
            try state.setRecord(.node(job.node), record)
        }

        let refund = Amount.min(job.amount, slashed)
        let remainder = try sub(slashed, refund, .stake)
        let bounty = remainder.basisPoints(parameters.challengerBountyBasisPoints)
        let burnt = try sub(remainder, bounty, .stake)
        try credit(job.payer, refund, state)
        try credit(challenge.challenger, try add(bounty, challenge.bond), state)
        guard var totals = try state.record(.totals, as: LedgerTotals.self) else { throw .storage("totals missing") }
        totals.burnt = try add(totals.burnt, burnt)
        try state.setRecord(.totals, totals)
    }

    // MARK: Helpers

    private enum Pool { case balance, deposit, stake }

    private func accountState(_ key: PublicKey, _ state: WorkingState) throws(TransactionError) -> AccountState {
        try state.record(.account(key), as: AccountState.self) ?? AccountState()
    }

    private func credit(_ key: PublicKey, _ amount: Amount, _ state: WorkingState) throws(TransactionError) {
        guard !amount.isZero else { return }
        var account = try accountState(key, state)
        account.balance = try add(account.balance, amount)
        try state.setRecord(.account(key), account)
    }

    private func addUnbonding(
        owner: PublicKey, kind: UnbondingEntry.Kind, amount: Amount, at height: UInt64, _ state: WorkingState
    ) throws(TransactionError) {
        let key = StateKey.unbonding(releaseHeight: height, owner: owner, kind: kind.rawValue)
        let existing = try state.record(key, as: UnbondingEntry.self)?.amount ?? .zero
        try state.setRecord(key, UnbondingEntry(amount: try add(existing, amount)))
    }

    private func requirePositive(_ amount: Amount) throws(TransactionError) {
        if amount.isZero { throw .zeroAmount }
    }

    private func add(_ a: Amount, _ b: Amount) throws(TransactionError) -> Amount {
        do { return try a.adding(b) } catch { throw .amountOverflow }
    }

    private func sub(_ a: Amount, _ b: Amount, _ pool: Pool) throws(TransactionError) -> Amount {
        guard b <= a else {
            switch pool {
            case .balance: throw .insufficientBalance(needed: b, available: a)
            case .deposit: throw .insufficientDeposit(needed: b, available: a)
            case .stake: throw .insufficientStake(needed: b, available: a)
            }
        }
        return Amount(microUnits: a.microUnits - b.microUnits)
    }
}
