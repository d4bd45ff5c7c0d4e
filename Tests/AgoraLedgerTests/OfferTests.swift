import AgoraCore
import AgoraLedger
import Foundation
import Testing

/// Service offers on the ledger: registration with a quality bond, updates by the seller only, retirement
/// with the bond unbonding after the chain's delay, and every malformed offer refused with nothing changed.
@Suite struct OfferTests {
    let chain = TestChain()
    let model = Hash256.of(Array("offer-model".utf8))

    func offer(
        _ name: String = "translate-and-check", models: [Hash256]? = nil, offers: [Hash256] = [],
        verification: VerificationPolicy = .reexecute(pipeline: Hash256.of([1])), tags: [String] = ["translation"],
        inputSchema: String = #"{"type":"object","properties":{"text":{"type":"string"}}}"#,
        pricing: OfferPricing = .perCall(Amount(microUnits: 50)), endpoint: String = "http://127.0.0.1:9000"
    ) -> OfferRegistration {
        OfferRegistration(
            name: name, description: "Translates, translates back, and scores the agreement.", tags: tags,
            inputSchema: inputSchema, outputSchema: #"{"type":"object"}"#, pricing: pricing, models: models ?? [model],
            offers: offers, verification: verification, endpoint: endpoint)
    }

    /// A ledger whose first account has registered `model`.
    func ledger() throws -> Ledger {
        let ledger = try chain.makeLedger()
        let registration = ModelRegistration(
            modelHash: model, name: "m", royaltyBasisPoints: 0,
            shares: [Share(holder: chain.accounts[0].publicKey, basisPoints: 10_000)])
        #expect(
            try ledger.submitOne(chain.transaction(chain.accounts[0], nonce: 1, .registerModel(registration))) == nil)
        return ledger
    }

    func expectConserved(_ ledger: Ledger) throws {
        #expect(try ledger.moneyHeld() == chain.supply)
        #expect(try ChainVerifier(directory: ledger.directory).verify().supply.microUnits == chain.supply)
    }

    @Test func registeringLocksTheBondUnderTheOffersId() throws {
        let ledger = try ledger()
        let seller = chain.accounts[1]
        let before = try ledger.account(seller.publicKey).balance
        let registration = offer()
        #expect(
            try ledger.submitOne(
                chain.transaction(seller, nonce: 1, .registerOffer(registration, bond: Amount(microUnits: 5_000))))
                == nil)
        let id = OfferRegistration.id(seller: seller.publicKey, name: registration.name)
        let record = try #require(try ledger.offer(id))
        #expect(record.seller == seller.publicKey && record.registration == registration && record.isLive)
        #expect(record.bond == Amount(microUnits: 5_000) && record.registeredHeight == ledger.head.header.height)
        #expect(try ledger.account(seller.publicKey).balance.microUnits == before.microUnits - 5_000)
        #expect(try ledger.offerPage(after: nil, limit: 10).items.map(\.id) == [id])
        // One offer per seller and name.
        #expect(
            try ledger.submitOne(
                chain.transaction(seller, nonce: 2, .registerOffer(registration, bond: Amount(microUnits: 1))))
                == .offerAlreadyRegistered(id))
        // Another seller may use the same name: another id.
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    chain.accounts[2], nonce: 1, .registerOffer(registration, bond: Amount(microUnits: 1)))) == nil)
        try expectConserved(ledger)
    }

    @Test func onlyTheSellerUpdatesAndTheNameStays() throws {
        let ledger = try ledger()
        let seller = chain.accounts[1]
        let id = OfferRegistration.id(seller: seller.publicKey, name: "translate-and-check")
        try #require(
            try ledger.submitOne(
                chain.transaction(seller, nonce: 1, .registerOffer(offer(), bond: Amount(microUnits: 1_000)))) == nil)
        var changed = offer(pricing: .perToken(Amount(microUnits: 3)))
        changed.tags = ["translation", "french"]
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    chain.accounts[2], nonce: 1, .updateOffer(offer: id, changed, addedBond: .zero)))
                == .notOfferSeller(id))
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    seller, nonce: 2, .updateOffer(offer: id, offer("another name"), addedBond: .zero)))
                == .invalidRegistration("an offer's name makes its id: register a new offer to rename it"))
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    seller, nonce: 2, .updateOffer(offer: id, changed, addedBond: Amount(microUnits: 500))))
                == nil)
        let record = try #require(try ledger.offer(id))
        #expect(record.registration == changed && record.bond == Amount(microUnits: 1_500))
        #expect(
            try ledger.submitOne(
                chain.transaction(seller, nonce: 3, .updateOffer(offer: Hash256.of([7]), changed, addedBond: .zero)))
                == .offerNotFound(Hash256.of([7])))
        try expectConserved(ledger)
    }

    @Test func retiringUnbondsTheBondAfterTheDelay() throws {
        let ledger = try ledger()
        let seller = chain.accounts[1]
        let id = OfferRegistration.id(seller: seller.publicKey, name: "translate-and-check")
        let start = try ledger.account(seller.publicKey).balance
        try #require(
            try ledger.submitOne(
                chain.transaction(seller, nonce: 1, .registerOffer(offer(), bond: Amount(microUnits: 2_000)))) == nil)
        #expect(
            try ledger.submitOne(chain.transaction(chain.accounts[2], nonce: 1, .retireOffer(offer: id)))
                == .notOfferSeller(id))
        #expect(try ledger.submitOne(chain.transaction(seller, nonce: 2, .retireOffer(offer: id))) == nil)
        let retired = try #require(try ledger.offer(id))
        #expect(!retired.isLive && retired.bond == .zero && retired.retiredHeight == ledger.head.header.height)
        #expect(try ledger.account(seller.publicKey).unbonding == Amount(microUnits: 2_000))
        #expect(try ledger.submitOne(chain.transaction(seller, nonce: 3, .retireOffer(offer: id))) == .offerRetired(id))
        #expect(
            try ledger.submitOne(
                chain.transaction(seller, nonce: 3, .updateOffer(offer: id, offer(), addedBond: .zero)))
                == .offerRetired(id))
        try expectConserved(ledger)
        // The unbonding delay is 2 blocks.
        for _ in 0..<2 { _ = try ledger.produceBlock([], timestamp: 1_700_000_002_000, allowEmpty: true) }
        let account = try ledger.account(seller.publicKey)
        #expect(account.unbonding == .zero && account.balance == start)
        // The retired name cannot be registered again by the same seller (its id is taken).
        #expect(
            try ledger.submitOne(
                chain.transaction(seller, nonce: 3, .registerOffer(offer(), bond: Amount(microUnits: 1))))
                == .offerAlreadyRegistered(id))
        try expectConserved(ledger)
    }

    @Test func dependenciesMustExistAndBeLive() throws {
        let ledger = try ledger()
        let seller = chain.accounts[1]
        let unknownModel = Hash256.of([3])
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    seller, nonce: 1, .registerOffer(offer(models: [unknownModel]), bond: Amount(microUnits: 1))))
                == .modelNotFound(unknownModel))
        let evaluatorID = OfferRegistration.id(seller: chain.accounts[2].publicKey, name: "judge")
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    seller, nonce: 1,
                    .registerOffer(offer(verification: .evaluator(offer: evaluatorID)), bond: Amount(microUnits: 1))))
                == .offerNotFound(evaluatorID))
        try #require(
            try ledger.submitOne(
                chain.transaction(
                    chain.accounts[2], nonce: 1, .registerOffer(offer("judge"), bond: Amount(microUnits: 100)))) == nil)
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    seller, nonce: 1,
                    .registerOffer(
                        offer(offers: [evaluatorID], verification: .evaluator(offer: evaluatorID)),
                        bond: Amount(microUnits: 1)))) == nil)
        let selfID = OfferRegistration.id(seller: seller.publicKey, name: "self")
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    seller, nonce: 2,
                    .registerOffer(offer("self", verification: .evaluator(offer: selfID)), bond: Amount(microUnits: 1)))
            )
                == .invalidRegistration("an offer cannot depend on or judge itself"))
        try #require(
            try ledger.submitOne(chain.transaction(chain.accounts[2], nonce: 2, .retireOffer(offer: evaluatorID)))
                == nil)
        #expect(
            try ledger.submitOne(
                chain.transaction(
                    seller, nonce: 2, .registerOffer(offer("late", offers: [evaluatorID]), bond: Amount(microUnits: 1)))
            )
                == .offerRetired(evaluatorID))
        try expectConserved(ledger)
    }

    @Test func malformedOffersAreRefusedAndChangeNothing() throws {
        let ledger = try ledger()
        let seller = chain.accounts[1]
        let cases: [(OfferRegistration, Amount, TransactionError)] = [
            (offer(), .zero, .zeroAmount),
            (
                offer(""), Amount(microUnits: 1),
                .invalidRegistration("an offer needs a name without control characters")
            ),
            (
                offer("a\u{7}b"), Amount(microUnits: 1),
                .invalidRegistration("an offer needs a name without control characters")
            ),
            (
                offer(tags: ["Upper"]), Amount(microUnits: 1),
                .invalidRegistration("tag 'Upper' is not lowercase letters, digits and '-'")
            ),
            (offer(tags: ["a", "a"]), Amount(microUnits: 1), .invalidRegistration("tag 'a' is listed twice")),
            (
                offer(inputSchema: "[1]"), Amount(microUnits: 1),
                .invalidRegistration("the input schema is not a JSON object")
            ),
            (
                offer(inputSchema: "{"), Amount(microUnits: 1),
                .invalidRegistration("the input schema is not a JSON object")
            ),
            (
                offer(pricing: .perCall(.zero)), Amount(microUnits: 1),
                .invalidRegistration("an offer's price must be positive")
            ),
            (
                offer(models: [model, model]), Amount(microUnits: 1),
                .invalidRegistration("a model is listed twice")
            ),
            (
                offer(endpoint: "ftp://x"), Amount(microUnits: 1),
                .invalidRegistration("the endpoint must be an http(s) URL")
            ),
            (
                offer(), Amount(microUnits: 2_000_000_000),
                .insufficientBalance(
                    needed: Amount(microUnits: 2_000_000_000), available: Amount(microUnits: 1_000_000_000))
            ),
        ]
        let account = try ledger.account(seller.publicKey)
        for (registration, bond, error) in cases {
            #expect(
                try ledger.submitOne(chain.transaction(seller, nonce: 1, .registerOffer(registration, bond: bond)))
                    == error, "\(registration.name) \(registration.tags)")
        }
        #expect(try ledger.account(seller.publicKey) == account)
        #expect(try ledger.offerPage(after: nil, limit: 10).items.isEmpty)
        try expectConserved(ledger)
    }

    @Test func offerTransactionsRoundTripTheirCanonicalBytes() throws {
        let bodies: [TransactionBody] = [
            .registerOffer(offer(), bond: Amount(microUnits: 5)),
            .updateOffer(
                offer: Hash256.of([1]), offer(verification: .evaluator(offer: Hash256.of([2]))),
                addedBond: Amount(microUnits: 1)),
            .retireOffer(offer: Hash256.of([3])),
        ]
        for body in bodies {
            let transaction = chain.transaction(chain.accounts[0], nonce: 1, body)
            #expect(try Transaction(canonicalBytes: transaction.canonicalBytes) == transaction)
            // Every strict prefix of the bytes is refused as malformed, never a crash.
            let bytes = transaction.canonicalBytes
            for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 40)) {
                #expect(throws: (any Error).self) { try Transaction(canonicalBytes: Array(bytes[..<cut])) }
            }
        }
    }
}
