import AgoraCore
import AgoraLedger
import Foundation

/// Checks a receipt offline, from the receipt alone (and optionally the request and output it claims).
public enum ReceiptVerifier {
    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case badSignature
        case wrongNode(expected: String, got: String)
        case inputMismatch
        case outputMismatch
        case modelMismatch
        case amountAboveMax(amount: Amount, max: Amount)
        /// A receipt field disagrees with the voucher or the terms it answers.
        case fieldMismatch(field: String)
        /// The receipt charges more than its token counts cost at the terms' prices.
        case overcharged(amount: Amount, cost: Amount)

        public var description: String {
            switch self {
            case .badSignature: return "the receipt's signature is not the node's"
            case .wrongNode(let expected, let got): return "receipt from \(got), expected \(expected)"
            case .inputMismatch: return "the receipt's input hash is not the request's"
            case .outputMismatch: return "the receipt's output hash is not the output's"
            case .modelMismatch: return "the receipt names another model"
            case .amountAboveMax(let amount, let max): return "receipt charges \(amount) above the voucher's \(max)"
            case .fieldMismatch(let field): return "the receipt's '\(field)' is not the one paid for"
            case .overcharged(let amount, let cost):
                return "the receipt charges \(amount), but its token counts cost \(cost) at the offered prices"
            }
        }
    }

    /// The output hash receipts commit to: SHA-256 of the generated text's UTF-8 bytes, domain-tagged.
    public static func outputHash(_ text: String) -> Hash256 { Hash256.tagged("agora-output-v1", Array(text.utf8)) }

    /// The output hash of a whole outcome. One choice without log-probabilities hashes as its text alone
    /// (`agora-output-v1`, as before `n` and `logprobs` existed); otherwise every choice counts, in order:
    ///
    ///     SHA-256("agora-output-v2" ‖ 0x00 ‖ u32 choices ‖ for each: string text ‖ u8 has-logprobs
    ///             [‖ u32 entries ‖ for each: bytes token ‖ f32 logprob ‖ u32 top ‖ top × (bytes ‖ f32)])
    ///
    /// (big-endian; `bytes` = u32 length ‖ the token's bytes; f32 = the bit pattern). Tokens enter by their
    /// bytes, not their ids, so a client checks the hash from OpenAI's `logprobs` objects alone.
    public static func outputHash(_ outcome: CompletionOutcome) -> Hash256 {
        if let vectors = outcome.embeddings { return embeddingsHash(vectors) }
        if outcome.choices.count == 1, outcome.choices[0].logprobs == nil { return outputHash(outcome.text) }
        var writer = CanonicalWriter()
        writer.write(UInt32(outcome.choices.count))
        for choice in outcome.choices {
            writer.write(choice.text)
            guard let logprobs = choice.logprobs else {
                writer.write(UInt8(0))
                continue
            }
            writer.write(UInt8(1))
            writer.write(UInt32(logprobs.count))
            for entry in logprobs {
                writer.writeBytes(entry.bytes)
                writer.write(entry.logprob.bitPattern)
                writer.write(UInt32(entry.top.count))
                for alternative in entry.top {
                    writer.writeBytes(alternative.bytes)
                    writer.write(alternative.logprob.bitPattern)
                }
            }
        }
        return Hash256.tagged("agora-output-v2", writer.bytes)
    }

    /// The output hash of an embeddings job: every vector's bytes, in order,
    ///
    ///     SHA-256("agora-embeddings-v1" ‖ 0x00 ‖ u32 vectors ‖ for each: u32 dimensions ‖ the floats)
    ///
    /// with each float as its IEEE-754 bits, little-endian: exactly the bytes of OpenAI's `base64` encoding, so a
    /// client hashes what it received without converting anything.
    public static func embeddingsHash(_ vectors: [[Float]]) -> Hash256 {
        var writer = CanonicalWriter()
        writer.write(UInt32(vectors.count))
        var bytes = writer.bytes
        for vector in vectors {
            withUnsafeBytes(of: UInt32(vector.count).bigEndian) { bytes.append(contentsOf: $0) }
            for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        }
        return Hash256.tagged("agora-embeddings-v1", bytes)
    }

    /// Checks the signature alone: what `agora verify receipt.json` does with no other input.
    public static func verify(_ receipt: JobReceipt) throws(Failure) {
        guard receipt.hasValidSignature else { throw .badSignature }
    }

    /// Checks a receipt against the voucher it answers and the output that was received.
    public static func verify(_ receipt: JobReceipt, voucher: Voucher, output: String) throws(Failure) {
        try verify(receipt)
        guard receipt.node == voucher.payee else {
            throw .wrongNode(expected: voucher.payee.address.description, got: receipt.node.address.description)
        }
        guard receipt.modelHash == voucher.modelHash else { throw .modelMismatch }
        guard receipt.inputHash == voucher.inputHash, receipt.jobID == voucher.jobID else { throw .inputMismatch }
        guard receipt.outputHash == outputHash(output) else { throw .outputMismatch }
        guard receipt.amount <= voucher.maxAmount else {
            throw .amountAboveMax(amount: receipt.amount, max: voucher.maxAmount)
        }
    }

    /// Checks a paid receipt against the voucher and the terms it answers, and the output received: besides
    /// the checks above, the chain, the payer and the seed are the ones paid for, the input tokens are the
    /// terms' prompt length, the output tokens stay within the terms' limit, and the amount is what those
    /// counts cost at the terms' prices (never more than the voucher's cap).
    public static func verify(_ receipt: JobReceipt, voucher: Voucher, terms: X402.AgoraTerms, output: String)
        throws(Failure)
    {
        try verify(receipt, voucher: voucher, output: output)
        guard receipt.chainID == voucher.chainID else { throw .fieldMismatch(field: "chainId") }
        guard receipt.payer == voucher.payer else { throw .fieldMismatch(field: "payer") }
        guard receipt.seed == terms.seed else { throw .fieldMismatch(field: "seed") }
        guard Int(receipt.inputTokens) == terms.promptTokens else { throw .fieldMismatch(field: "inputTokens") }
        guard Int(receipt.outputTokens) <= terms.maxOutputTokens else { throw .fieldMismatch(field: "outputTokens") }
        let prices = NodePrices(perInputToken: terms.pricePerInputToken, perOutputToken: terms.pricePerOutputToken)
        let cost =
            prices.cost(inputTokens: Int(receipt.inputTokens), outputTokens: Int(receipt.outputTokens))
            ?? voucher.maxAmount
        guard receipt.amount <= cost else { throw .overcharged(amount: receipt.amount, cost: cost) }
    }
}
