import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// A ledger in another process, reached through its RPC (`agora ledger serve`), behind the same access
/// protocols as the embedded ledger: a node, an agent, the referee or the CLI holds `any LedgerAccess` and
/// does not know which one it has.
///
/// Calls are asynchronous (URLSession completion handlers resumed into continuations): no thread waits for
/// the network. Verdicts arrive as the shared `TransactionError` cases, decoded from the RPC's JSON.
public final class RemoteLedger: LedgerReader, TransactionSubmitter, @unchecked Sendable {
    public let baseURL: URL
    public let chainID: String
    public let parameters: ChainParameters
    private let session: URLSession
    private let timeout: TimeInterval

    /// Connects and reads the chain's identity; fails when nothing answers at `baseURL`.
    public static func connect(to baseURL: URL, timeout: TimeInterval = 30) async throws(LedgerAccessError)
        -> RemoteLedger
    {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeout
        configuration.httpMaximumConnectionsPerHost = 16
        let session = URLSession(configuration: configuration)
        let info: LedgerRPC.Info = try await Self.call(session, baseURL, "info", timeout: timeout)
        return RemoteLedger(baseURL: baseURL, session: session, timeout: timeout, info: info)
    }

    private init(baseURL: URL, session: URLSession, timeout: TimeInterval, info: LedgerRPC.Info) {
        self.baseURL = baseURL
        self.session = session
        self.timeout = timeout
        chainID = info.chainId
        parameters = info.parameters
    }

    public func genesis() async throws(LedgerAccessError) -> Genesis {
        let body: LedgerRPC.GenesisBody = try await get("genesis")
        return try body.decode()
    }

    public func head() async throws(LedgerAccessError) -> SignedBlockHeader {
        let body: LedgerRPC.HeaderBody = try await get("head")
        return try body.decode()
    }

    public func totals() async throws(LedgerAccessError) -> LedgerTotals { try await get("totals") }

    public func account(_ key: PublicKey) async throws(LedgerAccessError) -> AccountState {
        try await get("accounts/\(key.address)")
    }

    public func node(_ key: PublicKey) async throws(LedgerAccessError) -> NodeRecord? {
        try await optional("nodes/\(key.address)")
    }

    public func model(_ hash: Hash256) async throws(LedgerAccessError) -> ModelRecord? {
        try await optional("models/\(hash.hex)")
    }

    public func offer(_ id: Hash256) async throws(LedgerAccessError) -> OfferRecord? {
        try await optional("offers/\(id.hex)")
    }

    public func dataset(_ hash: Hash256) async throws(LedgerAccessError) -> DatasetRecord? {
        try await optional("datasets/\(hash.hex)")
    }

    public func job(_ id: Hash256) async throws(LedgerAccessError) -> JobRecord? {
        try await optional("jobs/\(id.hex)")
    }

    public func challenge(_ jobID: Hash256) async throws(LedgerAccessError) -> ChallengeRecord? {
        try await optional("challenges/\(jobID.hex)")
    }

    public func transaction(_ id: Hash256) async throws(LedgerAccessError) -> TransactionLocation? {
        let body: LedgerRPC.TransactionBody? = try await optional("transactions/\(id.hex)")
        return try body?.decode()
    }

    public func nodes(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<NodeEntry> {
        try await get("nodes", query: Self.pageQuery(cursor, limit))
    }

    public func models(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<ModelEntry> {
        try await get("models", query: Self.pageQuery(cursor, limit))
    }

    public func offers(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<OfferEntry> {
        try await get("offers", query: Self.pageQuery(cursor, limit))
    }

    public func datasets(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<
        DatasetEntry
    > {
        try await get("datasets", query: Self.pageQuery(cursor, limit))
    }

    public func openChallenges(after cursor: String?, limit: Int) async throws(LedgerAccessError) -> LedgerPage<
        ChallengeEntry
    > {
        try await get("challenges", query: Self.pageQuery(cursor, limit))
    }

    public func blocks(from height: UInt64, count: Int) async throws(LedgerAccessError) -> [BlockEntry] {
        let body: LedgerRPC.BlocksBody = try await get(
            "blocks",
            query: [URLQueryItem(name: "from", value: String(height)), .init(name: "count", value: String(count))])
        var entries: [BlockEntry] = []
        for block in body.blocks { entries.append(try block.decode()) }
        return entries
    }

    public func waitForHead(above height: UInt64, timeout: Duration) async throws(LedgerAccessError)
        -> SignedBlockHeader
    {
        let wait = min(timeout, LedgerLimits.maxWait).components
        let milliseconds = wait.seconds * 1_000 + wait.attoseconds / 1_000_000_000_000_000
        let body: LedgerRPC.HeaderBody = try await get(
            "head",
            query: [
                URLQueryItem(name: "after", value: String(height)),
                URLQueryItem(name: "wait_ms", value: String(max(milliseconds, 0))),
            ], extraTimeout: Double(milliseconds) / 1_000)
        return try body.decode()
    }

    public func submit(_ transactions: [Transaction], wait: Bool) async throws(LedgerAccessError)
        -> [SubmissionResult]
    {
        let body: Data
        do { body = try JSONEncoder().encode(LedgerRPC.Submission(transactions: transactions, wait: wait)) } catch {
            throw .protocolViolation("cannot encode the submission: \(error)")
        }
        let results: [SubmissionResult] = try await Self.call(
            session, baseURL, "transactions", body: body, timeout: timeout)
        guard results.count == transactions.count else {
            throw .protocolViolation("\(results.count) verdicts for \(transactions.count) transactions")
        }
        return results
    }

    // MARK: HTTP

    /// The ledger server's market search (`GET /v1/ledger/search`): the same ranking as
    /// `MarketSearch.search` on the server's state.
    public func search(_ query: String, filters: MarketSearch.Filters) async throws(LedgerAccessError)
        -> [MarketSearch.Match]
    {
        var items = [URLQueryItem(name: "q", value: query)]
        for (name, value) in MarketSearch.parameters(filters).sorted(by: { $0.key < $1.key }) {
            items.append(URLQueryItem(name: name, value: value))
        }
        let body: LedgerRPC.SearchBody = try await get("search", query: items)
        return body.results
    }

    private static func pageQuery(_ cursor: String?, _ limit: Int) -> [URLQueryItem] {
        var items = [URLQueryItem(name: "limit", value: String(limit))]
        if let cursor { items.append(URLQueryItem(name: "after", value: cursor)) }
        return items
    }

    private func get<Answer: Decodable>(_ path: String, query: [URLQueryItem] = [], extraTimeout: Double = 0)
        async throws(LedgerAccessError) -> Answer
    {
        try await Self.call(session, baseURL, path, query: query, timeout: timeout + extraTimeout)
    }

    /// A record that may be absent: 404 is nil.
    private func optional<Answer: Decodable>(_ path: String) async throws(LedgerAccessError) -> Answer? {
        try await Self.fetch(session, baseURL, path, timeout: timeout, missingIsNil: true)
    }

    private static func call<Answer: Decodable>(
        _ session: URLSession, _ baseURL: URL, _ path: String, query: [URLQueryItem] = [], body: Data? = nil,
        timeout: TimeInterval
    ) async throws(LedgerAccessError) -> Answer {
        guard let answer: Answer = try await fetch(session, baseURL, path, query: query, body: body, timeout: timeout)
        else { throw .protocolViolation("\(path): not found") }
        return answer
    }

    private static func fetch<Answer: Decodable>(
        _ session: URLSession, _ baseURL: URL, _ path: String, query: [URLQueryItem] = [], body: Data? = nil,
        timeout: TimeInterval, missingIsNil: Bool = false
    ) async throws(LedgerAccessError) -> Answer? {
        var url = baseURL.appendingPathComponent("v1/ledger").appendingPathComponent(path)
        if !query.isEmpty, var components = URLComponents(url: url, resolvingAgainstBaseURL: false) {
            components.queryItems = query
            url = components.url ?? url
        }
        var request = URLRequest(url: url)
        request.timeoutInterval = timeout
        if let body {
            request.httpMethod = "POST"
            request.httpBody = body
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        let (data, response, error) = await withCheckedContinuation {
            (continuation: CheckedContinuation<(Data?, URLResponse?, (any Error)?), Never>) in
            session.dataTask(with: request) { data, response, error in
                continuation.resume(returning: (data, response, error))
            }.resume()
        }
        if let error { throw .unreachable("\(baseURL): \(error.localizedDescription)") }
        guard let http = response as? HTTPURLResponse, let data else { throw .unreachable("no HTTP response") }
        if http.statusCode == 404, missingIsNil { return nil }
        guard (200..<300).contains(http.statusCode) else {
            let decoded = try? JSONDecoder().decode(LedgerRPC.ErrorBody.self, from: data)
            if http.statusCode == 400, let reason = decoded?.reason { throw .badQuery(reason) }
            let message = decoded?.error ?? String(decoding: data.prefix(300), as: UTF8.self)
            throw .protocolViolation("HTTP \(http.statusCode): \(message)")
        }
        do { return try JSONDecoder().decode(Answer.self, from: data) } catch {
            throw .protocolViolation("\(path): \(error)")
        }
    }
}
