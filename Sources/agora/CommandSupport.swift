import AgoraCore
import AgoraLedger
import ArgumentParser
import Foundation

/// `--data DIR`: where the embedded ledger lives.
struct LedgerLocation: ParsableArguments {
    @Option(name: .long, help: "Ledger data directory.")
    var data: String = "agora-data/ledger"

    var url: URL { URL(fileURLWithPath: data) }

    func open() throws -> Ledger { try Ledger.open(at: url) }
}

/// `--json`: machine-readable output for scripts.
struct OutputFormat: ParsableArguments {
    @Flag(name: .long, help: "Print JSON instead of text.")
    var json = false
}

/// Writes `value` as pretty, key-sorted JSON on stdout.
func printJSON<Value: Encodable>(_ value: Value) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try encoder.encode(value), as: UTF8.self))
}

/// Writes a line to stderr: progress and diagnostics never mix with the output scripts read.
func printError(_ message: String) {
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

/// Parses an address argument with a clear message.
func parseAddress(_ text: String) throws -> PublicKey {
    do { return try Address(parsing: text).publicKey } catch { throw ValidationError("\(error)") }
}

/// Parses an amount argument (`12.5`, `12.5AGR`, `12500000u`).
func parseAmount(_ text: String) throws -> Amount {
    do { return try Amount(parsing: text) } catch { throw ValidationError("\(error)") }
}

/// Parses a 64-hex-digit hash argument.
func parseHash(_ text: String, what: String) throws -> Hash256 {
    guard let hash = Hash256(hex: text) else { throw ValidationError("\(what) must be 64 hex digits") }
    return hash
}

/// A simple aligned text table.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []

    func render() -> String {
        var widths = header.map(\.count)
        for row in rows {
            for (index, cell) in row.enumerated() where index < widths.count {
                widths[index] = max(widths[index], cell.count)
            }
        }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        let rule = widths.map { String(repeating: "-", count: $0) }.joined(separator: "  ")
        return ([line(header), rule] + rows.map(line)).joined(separator: "\n")
    }
}

/// The median of `values` (the mean of the middle two for an even count); nil when there are none.
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
