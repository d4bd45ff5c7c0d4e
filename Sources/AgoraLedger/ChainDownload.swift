import AgoraCore
import Foundation
import GRDB

/// Why a downloaded chain could not be checked.
public enum ChainDownloadError: Error, Sendable, CustomStringConvertible {
    case access(LedgerAccessError)
    case unexpectedGenesis(expected: Hash256, got: Hash256)
    case gap(expected: UInt64, got: UInt64)
    case storage(String)

    public var description: String {
        switch self {
        case .access(let error): return "\(error)"
        case .unexpectedGenesis(let expected, let got):
            return "the ledger's genesis hashes to \(got), not the expected \(expected)"
        case .gap(let expected, let got): return "the ledger sent block \(got) where block \(expected) belongs"
        case .storage(let why): return "cannot store the downloaded chain: \(why)"
        }
    }
}

/// Downloads a chain — genesis, then every block with its transactions — through any `LedgerReader` and
/// replays it here with `ChainVerifier`, trusting nothing the source says beyond those bytes: every
/// signature, link, root and state transition is recomputed locally. How a node operator checks a
/// sequencer it does not run (`agora ledger verify --ledger URL`).
public struct ChainDownload {
    public let source: any LedgerReader
    /// When given, the genesis must hash to this (pinning the chain one means to check).
    public let expectedGenesis: Hash256?

    public init(source: any LedgerReader, expectedGenesis: Hash256? = nil) {
        self.source = source
        self.expectedGenesis = expectedGenesis
    }

    public func verify(progress: (@Sendable (UInt64, UInt64) -> Void)? = nil) async throws -> VerificationReport {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent(
            "agora-download-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        let store = try LedgerStore(path: scratch.appendingPathComponent(Ledger.databaseFileName).path)

        let genesis: Genesis
        let head: SignedBlockHeader
        do {
            genesis = try await source.genesis()
            head = try await source.head()
        } catch { throw ChainDownloadError.access(error) }
        if let expectedGenesis, genesis.hash != expectedGenesis {
            throw ChainDownloadError.unexpectedGenesis(expected: expectedGenesis, got: genesis.hash)
        }
        do {
            try await store.pool.write { db in try LedgerStore.setMeta(db, "genesis", genesis.canonicalBytes) }
        } catch { throw ChainDownloadError.storage("\(error)") }

        // Up to the head seen at the start; blocks sealed meanwhile are for the next check.
        let last = head.header.height
        var next: UInt64 = 0
        while next <= last {
            let count = Int(min(UInt64(LedgerLimits.maxBlocksPerQuery), last - next + 1))
            let entries: [BlockEntry]
            do { entries = try await source.blocks(from: next, count: count) } catch {
                throw ChainDownloadError.access(error)
            }
            guard !entries.isEmpty else { throw ChainDownloadError.gap(expected: next, got: next + UInt64(count)) }
            let first = next
            do {
                try await store.pool.write { db in
                    for (offset, entry) in entries.enumerated() {
                        let height = first + UInt64(offset)
                        guard entry.block.header.height == height else {
                            throw ChainDownloadError.gap(expected: height, got: entry.block.header.height)
                        }
                        try LedgerStore.insertTransactions(db, height: height, received: entry.transactions)
                        try LedgerStore.insertBlock(db, entry.block)
                    }
                }
            } catch let error as ChainDownloadError { throw error } catch {
                throw ChainDownloadError.storage("\(error)")
            }
            next += UInt64(entries.count)
            progress?(next - 1, last)
        }
        return try ChainVerifier(directory: scratch, checkStoredState: false).verify()
    }
}
