import AgoraCore
import AgoraLedger
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Why a call to a remote ledger failed.
public enum RemoteLedgerError: Error, Sendable, Equatable, CustomStringConvertible {
    case unreachable(String)
    case http(status: Int, message: String)
    case malformed(String)

    public var description: String {
        switch self {
        case .unreachable(let why): return "the ledger is unreachable: \(why)"
        case .http(let status, let message): return "the ledger answered HTTP \(status): \(message)"
        case .malformed(let why): return "the ledger's answer is malformed: \(why)"
        }
    }
}

/// A ledger in another process, reached through its RPC (`agora ledger serve`): what a node needs to check
/// deposits and settle its jobs when it does not hold the chain itself.
///
/// Calls block the calling thread until the answer arrives (the node calls them off Swift's cooperative
/// pool, as it does for the embedded ledger's SQLite reads).
public final class RemoteLedger: PaymentLedger, SettlementLedger, @unchecked Sendable {
    public let baseURL: URL
    public let chainID: String
    public let parameters: ChainParameters
    private let session: URLSession
    private let timeout: TimeInterval

    /// Connects and reads the chain's identity; fails when nothing answers at `baseURL`.
    public init(baseURL: URL, timeout: TimeInterval = 30) throws(RemoteLedgerError) {
        self.baseURL = baseURL
        self.timeout = timeout
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        session = URLSession(configuration: configuration)
        let info: LedgerRPC.Info = try Self.call(session, baseURL, "v1/ledger/info", body: nil, timeout: timeout)
        chainID = info.chainId
        parameters = info.parameters
    }

    public func info() throws(RemoteLedgerError) -> LedgerRPC.Info {
        try Self.call(session, baseURL, "v1/ledger/info", body: nil, timeout: timeout)
    }

    public func account(_ key: PublicKey) throws(RemoteLedgerError) -> AccountState {
        try Self.call(session, baseURL, "v1/ledger/accounts/\(key.address)", body: nil, timeout: timeout)
    }

    /// The settled job's record, or nil when the ledger has none.
    public func job(_ id: Hash256) throws(RemoteLedgerError) -> JobRecord? {
        do {
            let status: LedgerRPC.JobStatus = try Self.call(
                session, baseURL, "v1/ledger/jobs/\(id.hex)", body: nil, timeout: timeout)
            return status.record
        } catch {
            if case .http(404, _) = error { return nil }
            throw error
        }
    }

    public func deposit(of payer: PublicKey) throws -> Amount { try account(payer).deposit }

    public func isSettled(job: Hash256) throws -> Bool { try self.job(job) != nil }

    /// Submits transactions in order; with `wait`, returns once each is in a block or refused.
    public func submit(_ transactions: [Transaction], wait: Bool) throws(RemoteLedgerError)
        -> [LedgerRPC.SubmissionResult]
    {
        let body: Data
        do { body = try JSONEncoder().encode(LedgerRPC.Submission(transactions: transactions, wait: wait)) } catch {
            throw .malformed("cannot encode the submission: \(error)")
        }
        let results: [LedgerRPC.SubmissionResult] = try Self.call(
            session, baseURL, "v1/ledger/transactions", body: body, timeout: timeout)
        guard results.count == transactions.count else {
            throw .malformed("\(results.count) results for \(transactions.count) transactions")
        }
        return results
    }

    public func settle(_ items: [PendingSettlement], signedBy node: SigningKey) throws -> [Hash256: SettlementResult] {
        let signed = SettlementTransactions.sign(
            items, by: node, chainID: chainID, after: try account(node.publicKey).nonce)
        let results = try submit(signed.map(\.transaction), wait: true)
        var settlements: [Hash256: SettlementResult] = [:]
        for ((_, jobID), result) in zip(signed, results) {
            switch result.status {
            case .accepted: settlements[jobID] = .settled
            case .rejected:
                settlements[jobID] =
                    result.alreadySettled == true ? .settled : .refused(result.error ?? "refused")
            case .queued: continue  // not decided yet: stays pending
            }
        }
        return settlements
    }

    private static func call<Answer: Decodable>(
        _ session: URLSession, _ baseURL: URL, _ path: String, body: Data?, timeout: TimeInterval
    ) throws(RemoteLedgerError) -> Answer {
        var request = URLRequest(url: baseURL.appendingPathComponent(path))
        request.timeoutInterval = timeout
        if let body {
            request.httpMethod = "POST"
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let box = ResponseBox()
        let done = DispatchSemaphore(value: 0)
        session.dataTask(with: request) { data, response, error in
            box.set(data, response, error)
            done.signal()
        }.resume()
        done.wait()
        let (data, response, error) = box.get()
        if let error { throw .unreachable("\(error.localizedDescription)") }
        guard let http = response as? HTTPURLResponse, let data else { throw .unreachable("no HTTP response") }
        guard (200..<300).contains(http.statusCode) else {
            let message =
                (try? JSONDecoder().decode(LedgerRPC.ErrorBody.self, from: data).error)
                ?? String(decoding: data.prefix(300), as: UTF8.self)
            throw .http(status: http.statusCode, message: message)
        }
        do { return try JSONDecoder().decode(Answer.self, from: data) } catch { throw .malformed("\(error)") }
    }
}

/// Hands a URLSession completion to the waiting thread.
private final class ResponseBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: (Data?, URLResponse?, (any Error)?) = (nil, nil, nil)

    func set(_ data: Data?, _ response: URLResponse?, _ error: (any Error)?) {
        lock.lock()
        value = (data, response, error)
        lock.unlock()
    }

    func get() -> (Data?, URLResponse?, (any Error)?) {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
