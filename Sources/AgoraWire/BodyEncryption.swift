import AgoraCore
import Crypto
import Foundation

/// Optional end-to-end encryption of request and response bodies to the node's key (RFC 9180 HPKE, base
/// mode, X25519 + HKDF-SHA256 + ChaCha20-Poly1305), so relays and proxies between an agent and a node see
/// neither prompts nor outputs.
///
/// The client seals the request body to the node's public key and sends the encapsulated key in the
/// `Agora-HPKE-Enc` header. The node answers with a body sealed under a key exported from the same HPKE
/// context, so only that client can read it. Payment headers stay readable: they carry only hashes.
public enum BodyEncryption {
    public static let suiteName = "X25519-SHA256-ChaCha20Poly1305"
    public static let encapsulatedKeyHeader = "Agora-HPKE-Enc"
    static let ciphersuite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly
    static let info = Data("agora-hpke-request-v1".utf8)
    static let responseContext = Data("agora-hpke-response-v1".utf8)

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case badEncapsulatedKey
        case cannotOpen
        public var description: String {
            switch self {
            case .badEncapsulatedKey: return "the Agora-HPKE-Enc header is not a valid encapsulated key"
            case .cannotOpen: return "the encrypted body cannot be opened with this node's key"
            }
        }
    }

    /// The node's X25519 key, derived from its Ed25519 seed so one key file holds both.
    public static func nodeKey(for key: SigningKey) -> Curve25519.KeyAgreement.PrivateKey {
        let derived = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: key.seed), info: Data("agora-hpke-node-key-v1".utf8),
            outputByteCount: 32)
        return try! derived.withUnsafeBytes { try Curve25519.KeyAgreement.PrivateKey(rawRepresentation: $0) }
    }

    /// Node side: opens a sealed request and returns its plaintext and the key to seal the answer with.
    public static func openRequest(
        _ body: Data, encapsulatedKey: String, nodeKey: Curve25519.KeyAgreement.PrivateKey
    ) throws(Failure) -> (plaintext: Data, responseKey: SymmetricKey) {
        guard let encapsulated = Data(base64Encoded: encapsulatedKey), encapsulated.count == 32 else {
            throw .badEncapsulatedKey
        }
        do {
            var recipient = try HPKE.Recipient(
                privateKey: nodeKey, ciphersuite: ciphersuite, info: info, encapsulatedKey: encapsulated)
            let plaintext = try recipient.open(body)
            let responseKey = try recipient.exportSecret(context: responseContext, outputByteCount: 32)
            return (plaintext, responseKey)
        } catch {
            throw .cannotOpen
        }
    }

    /// Seals one response body (or one stream event) with the exported key.
    public static func sealResponse(_ plaintext: Data, key: SymmetricKey) -> Data {
        (try? ChaChaPoly.seal(plaintext, using: key).combined) ?? Data()
    }

    /// Client side: seals a request to the node's public key.
    public static func sealRequest(
        _ body: Data, to nodePublicKey: Curve25519.KeyAgreement.PublicKey
    ) throws -> (ciphertext: Data, encapsulatedKey: String, responseKey: SymmetricKey) {
        var sender = try HPKE.Sender(recipientKey: nodePublicKey, ciphersuite: ciphersuite, info: info)
        let ciphertext = try sender.seal(body)
        let responseKey = try sender.exportSecret(context: responseContext, outputByteCount: 32)
        return (ciphertext, sender.encapsulatedKey.base64EncodedString(), responseKey)
    }

    /// Client side: opens a sealed response.
    public static func openResponse(_ body: Data, key: SymmetricKey) throws -> Data {
        try ChaChaPoly.open(ChaChaPoly.SealedBox(combined: body), using: key)
    }
}
