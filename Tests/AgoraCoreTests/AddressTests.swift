import AgoraCore
import Testing

@Suite struct AddressTests {
    @Test func addressRoundTripsAndHasPrefix() throws {
        let key = SigningKey(deterministicLabel: "address-test")
        let text = key.address.description
        #expect(text.hasPrefix("agr1"))
        #expect(try Address(parsing: text).publicKey == key.publicKey)
    }

    /// Every single-character substitution anywhere in the address is refused: a typo is never paid.
    @Test func everySingleCharacterTypoIsDetected() throws {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        for label in ["a", "b", "c"] {
            let text = Array(SigningKey(deterministicLabel: label).address.description)
            for position in 4..<text.count {
                for replacement in alphabet where replacement != text[position] {
                    var mutated = text
                    mutated[position] = replacement
                    #expect(throws: AddressError.self) { try Address(parsing: String(mutated)) }
                }
            }
        }
    }

    @Test func malformedAddressesGetTypedErrors() {
        let valid = SigningKey(deterministicLabel: "x").address.description
        #expect(throws: AddressError.missingPrefix("abc")) { try Address(parsing: "abc") }
        #expect(throws: AddressError.wrongLength(String(valid.dropLast(8)))) {
            try Address(parsing: String(valid.dropLast(8)))
        }
        #expect(throws: AddressError.invalidCharacters(valid + "!")) { try Address(parsing: valid + "!") }
        let swapped = "agr1" + String(valid.dropFirst(4).reversed())
        #expect(throws: AddressError.self) { try Address(parsing: swapped) }
    }

    @Test func signaturesVerifyOnlyForTheSignedMessageAndKey() {
        let key = SigningKey(deterministicLabel: "signer")
        let other = SigningKey(deterministicLabel: "other")
        let message = Array("pay 5".utf8)
        let signature = key.sign(message)
        #expect(key.publicKey.isValidSignature(signature, for: message))
        #expect(!key.publicKey.isValidSignature(signature, for: Array("pay 6".utf8)))
        #expect(!other.publicKey.isValidSignature(signature, for: message))
        var forged = signature.bytes
        forged[10] ^= 1
        #expect(!key.publicKey.isValidSignature(Signature(bytes: forged)!, for: message))
    }

    @Test func keyFileRoundTripAndTamperDetection() throws {
        let key = SigningKey()
        let file = KeyFile(key: key)
        #expect(try file.signingKey().publicKey == key.publicKey)
        var edited = file
        edited.address = SigningKey().address.description
        #expect(throws: SigningKeyError.self) { try edited.signingKey() }
        var truncated = file
        truncated.seed = String(file.seed.dropLast(2))
        #expect(throws: SigningKeyError.invalidSeed(length: 31)) { try truncated.signingKey() }
    }
}
