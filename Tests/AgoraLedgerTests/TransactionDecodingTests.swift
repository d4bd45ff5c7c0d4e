import AgoraCore
import AgoraLedger
import Testing

/// Decoding untrusted transaction bytes is total: 100 000+ random and mutated inputs either decode to a
/// transaction whose encoding is exactly the input, or give a typed error. Never a trap.
@Suite struct TransactionDecodingTests {
    static func samples() -> [Transaction] {
        let chain = TestChain()
        let (voucher, receipt) = chain.job(
            payer: chain.accounts[0], node: chain.accounts[1], jobID: Hash256.of([1]), model: Hash256.of([2]),
            amount: 5, max: 9)
        let share = Share(holder: chain.accounts[2].publicKey, basisPoints: 10_000)
        let bodies: [TransactionBody] = [
            .transfer(to: chain.accounts[1].publicKey, amount: Amount(microUnits: 5)),
            .deposit(amount: Amount(microUnits: 1)), .withdraw(amount: Amount(microUnits: 2)),
            .stake(amount: Amount(microUnits: 3)), .unstake(amount: Amount(microUnits: 4)),
            .registerNode(
                NodeRegistration(
                    endpoint: "http://127.0.0.1:1", models: [Hash256.of([3])], pricePerInputToken: .zero,
                    pricePerOutputToken: .zero)),
            .registerModel(
                ModelRegistration(
                    modelHash: Hash256.of([4]), name: "m", royaltyBasisPoints: 5, shares: [share],
                    datasets: [Hash256.of([5])])),
            .transferModelShares(model: Hash256.of([4]), to: chain.accounts[3].publicKey, basisPoints: 7),
            .registerDataset(DatasetRegistration(datasetHash: Hash256.of([6]), name: "d", shares: [share])),
            .settleJob(voucher: voucher, receipt: receipt),
            .fileChallenge(
                jobID: Hash256.of([1]), claimedOutputHash: Hash256.of([7]), evidence: Hash256.of([8]),
                revealedRequest: [1, 2, 3]),
            .resolveChallenge(jobID: Hash256.of([1]), nodeAtFault: true),
        ]
        return bodies.enumerated().map {
            chain.transaction(chain.accounts[0], nonce: UInt64($0.offset + 1), $0.element)
        }
    }

    @Test func everyKindRoundTrips() throws {
        for transaction in Self.samples() {
            let decoded = try Transaction.decode(transaction.canonicalBytes)
            #expect(decoded == transaction)
            #expect(decoded.hasValidSignature)
            #expect(decoded.id == transaction.id)
        }
    }

    @Test func mutatedAndRandomBytesNeverCrash() {
        let encodings = Self.samples().map(\.canonicalBytes)
        var generator = SystemRandomNumberGenerator()
        var decoded = 0
        let rounds = 120_000
        for round in 0..<rounds {
            var bytes: [UInt8]
            if round % 5 == 0 {
                bytes = (0..<Int.random(in: 0...400, using: &generator)).map { _ in
                    UInt8.random(in: 0...255, using: &generator)
                }
            } else {
                bytes = encodings[round % encodings.count]
                for _ in 0..<Int.random(in: 1...3, using: &generator) where !bytes.isEmpty {
                    let position = Int.random(in: 0..<bytes.count, using: &generator)
                    switch Int.random(in: 0..<4, using: &generator) {
                    case 0: bytes[position] = UInt8.random(in: 0...255, using: &generator)
                    case 1: bytes = Array(bytes.prefix(position))
                    case 2: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
                    default: bytes[position] ^= 1 << UInt8.random(in: 0...7, using: &generator)
                    }
                }
            }
            if let transaction = try? Transaction.decode(bytes) {
                #expect(transaction.canonicalBytes == bytes, "one transaction, one encoding")
                decoded += 1
            }
        }
        #expect(decoded < rounds)
        // Oversized input is refused before parsing.
        #expect(throws: CanonicalDecodingError.self) {
            try Transaction.decode([UInt8](repeating: 0, count: Transaction.maximumEncodedBytes + 1))
        }
    }
}
