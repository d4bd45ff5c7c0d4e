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

        public var description: String {
            switch self {
            case .badSignature: return "the receipt's signature is not the node's"
            case .wrongNode(let expected, let got): return "receipt from \(got), expected \(expected)"
            case .inputMismatch: return "the receipt's input hash is not the request's"
            case .outputMismatch: return "the receipt's output hash is not the output's"
            case .modelMismatch: return "the receipt names another model"
            case .amountAboveMax(let amount, let max): return "receipt charges \(amount) above the voucher's \(max)"
            }
        }
    }

    /// The output hash receipts commit to: SHA-256 of the generated text's UTF-8 bytes, domain-tagged.
    public static func outputHash(_ text: String) -> Hash256 { Hash256.tagged("agora-output-v1", Array(text.utf8)) }

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
}
