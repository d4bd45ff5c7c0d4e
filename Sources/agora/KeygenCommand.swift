import AgoraCore
import AgoraLedger
import ArgumentParser
import Foundation

/// `agora keygen`: makes a new Ed25519 wallet key.
struct KeygenCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keygen", abstract: "Create a new Ed25519 key file (mode 0600) and print its address.")

    @Option(name: .shortAndLong, help: "Where to write the key file.")
    var out: String = "agora.key"

    @OptionGroup var format: OutputFormat

    func run() throws {
        let key = SigningKey()
        try KeyFileStore.write(key, to: URL(fileURLWithPath: out))
        if format.json {
            try printJSON(["address": key.address.description, "keyFile": out])
        } else {
            print(key.address.description)
            printError("wrote \(out) (keep it secret: it is the wallet)")
        }
    }
}
