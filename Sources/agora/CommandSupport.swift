import AgoraClient
import AgoraCore
import AgoraLedger
import ArgumentParser
import Foundation

/// `--ledger DIR|URL`: the ledger a command reads and submits to — a data directory on this machine, or the
/// URL of an `agora ledger serve` anywhere. Commands hold the result only as `any LedgerAccess`.
struct LedgerLocation: ParsableArguments {
    @Option(
        name: [.customLong("ledger"), .customLong("data")],
        help: "The ledger: a data directory, or the URL of `agora ledger serve` (--data is an older name).")
    var ledger: String = "agora-data/ledger"

    var isRemote: Bool { ledger.hasPrefix("http://") || ledger.hasPrefix("https://") }

    /// The path as given (for messages of commands that work on a folder).
    var data: String { ledger }
    /// The folder as a URL (commands that create or sequence a chain here; `directory(for:)` refuses a URL).
    var url: URL { URL(fileURLWithPath: ledger) }

    /// The directory, for commands that only work on a local chain.
    func directory(for command: String) throws -> URL {
        guard !isRemote else { throw ValidationError("`\(command)` works on a data directory, not a URL") }
        return URL(fileURLWithPath: ledger)
    }

    /// The ledger for reading: a folder opens read-only (its `sequencer.key` is never read, so a copy of the
    /// folder without it works), a URL is connected to.
    func reader() async throws -> any LedgerAccess {
        try await open(sequencing: false)
    }

    /// The ledger for submitting: a URL, or a folder holding the sequencer key (a single-machine chain: each
    /// submission seals a block). A folder without the key refuses submissions with a typed error.
    func submitter() async throws -> any LedgerAccess {
        try await open(sequencing: true)
    }

    private func open(sequencing: Bool) async throws -> any LedgerAccess {
        if isRemote {
            guard let url = URL(string: ledger) else { throw ValidationError("--ledger is not a URL") }
            return try await RemoteLedger.connect(to: url)
        }
        return try EmbeddedLedger.open(at: URL(fileURLWithPath: ledger), sequencing: sequencing)
    }
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

/// Parses a size in bytes: a whole number with an optional unit, `K`/`KiB`, `M`/`MiB`, `G`/`GiB` (powers of
/// 1024) or `KB`/`MB`/`GB` (powers of 1000), e.g. `512MiB`, `2G`, `1500000000`.
func parseByteSize(_ text: String, option: String) throws -> Int {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
    let units: [String: Int] = [
        "": 1, "B": 1, "K": 1 << 10, "KIB": 1 << 10, "M": 1 << 20, "MIB": 1 << 20, "G": 1 << 30, "GIB": 1 << 30,
        "KB": 1000, "MB": 1_000_000, "GB": 1_000_000_000,
    ]
    let unit = trimmed.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).uppercased()
    guard let number = Int(digits), let scale = units[unit] else {
        throw ValidationError("\(option) must be a size such as 512MiB or 2GiB, not '\(text)'")
    }
    let (bytes, overflow) = number.multipliedReportingOverflow(by: scale)
    guard !overflow else { throw ValidationError("\(option) is too large: '\(text)'") }
    return bytes
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

/// The `p`-th quantile of `values` (0…1), the nearest rank; 0 when there are none.
func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count - 1) * p + 0.5))]
}

/// The median of `values` (the mean of the middle two for an even count); nil when there are none.
func median(_ values: [Double]) -> Double? {
    guard !values.isEmpty else { return nil }
    let sorted = values.sorted()
    let middle = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
