import AgoraCore
import AgoraLedger
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Serves an embedded ledger to other processes: queries, and transaction submission through a `Sequencer`
/// that seals a block every `blockInterval` while transactions are queued.
///
/// Submissions are checked at the door (decoding, chain, signature); everything else is the block
/// producer's job, and its verdict reaches a waiting submitter as the transaction's result.
public struct LedgerRPCServer: Sendable {
    public let ledger: Ledger
    public let sequencer: Sequencer
    public let host: String
    public let port: Int
    public let blockInterval: Duration
    let board = OutcomeBoard()

    public init(
        ledger: Ledger, host: String = "127.0.0.1", port: Int = 8545, blockInterval: Duration = .milliseconds(200)
    ) {
        self.ledger = ledger
        self.sequencer = Sequencer(ledger: ledger)
        self.host = host
        self.port = port
        self.blockInterval = blockInterval
    }

    /// Seals blocks until cancelled.
    func runSealing() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: blockInterval)
            while await sequencer.pendingCount > 0 {
                do {
                    let outcome = try await sequencer.seal(maxTransactions: 10_000)
                    await board.publish(outcome)
                } catch {
                    // A storage failure: the queued batch is lost to this block; its submitters learn why.
                    await board.failAll("the ledger could not commit: \(error)")
                    break
                }
            }
        }
    }

    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = Router()
        let ledger = self.ledger
        let server = self

        router.get("v1/ledger/info") { _, _ in
            let head = ledger.head
            return Self.json(
                200,
                LedgerRPC.Info(
                    chainId: ledger.chainID, height: head.header.height, headHash: head.hash.hex,
                    parameters: ledger.parameters))
        }
        router.get("v1/ledger/accounts/:address") { _, context in
            guard let text = context.parameters.get("address"), let address = try? Address(parsing: text) else {
                return Self.error(400, "not an agora address")
            }
            do { return Self.json(200, try ledger.account(address.publicKey)) } catch {
                return Self.error(503, "\(error)")
            }
        }
        router.get("v1/ledger/jobs/:id") { _, context in
            guard let text = context.parameters.get("id"), let id = Hash256(hex: text) else {
                return Self.error(400, "a job id is 64 hex digits")
            }
            do {
                guard let record = try ledger.job(id) else { return Self.error(404, "job \(id.short)… is not settled") }
                return Self.json(200, LedgerRPC.JobStatus(id: id.hex, record: record))
            } catch {
                return Self.error(503, "\(error)")
            }
        }
        router.post("v1/ledger/transactions") { request, _ in
            var request = request
            let body: ByteBuffer
            do { body = try await request.collectBody(upTo: LedgerRPC.maxBodyBytes + 1) } catch {
                return Self.error(413, "request body exceeds \(LedgerRPC.maxBodyBytes) bytes")
            }
            guard body.readableBytes <= LedgerRPC.maxBodyBytes else {
                return Self.error(413, "request body exceeds \(LedgerRPC.maxBodyBytes) bytes")
            }
            let submission: LedgerRPC.Submission
            do {
                submission = try JSONDecoder().decode(LedgerRPC.Submission.self, from: Data(body.readableBytesView))
            } catch { return Self.error(400, "malformed submission: \(error)") }
            guard submission.transactions.count <= LedgerRPC.maxBatch else {
                return Self.error(400, "at most \(LedgerRPC.maxBatch) transactions per submission")
            }
            return Self.json(200, await server.submit(submission))
        }

        var logger = Logger(label: "agora.ledger.rpc")
        logger.logLevel = .warning
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "agora-ledger"),
            services: [SealingService(server: self)],
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) }, logger: logger)
    }

    /// Decodes and submits each transaction in order; with `wait`, collects every verdict.
    func submit(_ submission: LedgerRPC.Submission) async -> [LedgerRPC.SubmissionResult] {
        let wait = submission.wait ?? false
        var results: [LedgerRPC.SubmissionResult] = []
        var waiting: [(index: Int, id: Hash256)] = []
        for encoded in submission.transactions {
            guard let bytes = Data(base64Encoded: encoded) else {
                results.append(.init(id: "", status: .rejected, error: "not base64"))
                continue
            }
            let transaction: Transaction
            do { transaction = try Transaction.decode([UInt8](bytes)) } catch {
                results.append(.init(id: "", status: .rejected, error: "malformed transaction: \(error)"))
                continue
            }
            let id = transaction.id
            // One waiter per transaction id: a second copy while the first is pending is refused here (it
            // could only fail on its nonce anyway).
            if wait, !(await board.expect(id)) {
                results.append(.init(id: id.hex, status: .rejected, error: "already submitted and pending"))
                continue
            }
            do {
                try await sequencer.submit(transaction)
                results.append(.init(id: id.hex, status: .queued))
                if wait { waiting.append((results.count - 1, id)) }
            } catch {
                if wait { await board.forget(id) }
                results.append(.init(id: id.hex, status: .rejected, error: "\(error)"))
            }
        }
        for (index, id) in waiting { results[index] = await board.outcome(of: id) }
        return results
    }

    static func json(_ status: Int, _ value: some Encodable) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let body = (try? encoder.encode(value)) ?? Data("{}".utf8)
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        return Response(
            status: .init(code: status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    static func error(_ status: Int, _ message: String) -> Response {
        json(status, LedgerRPC.ErrorBody(error: message))
    }
}

/// Runs the sealing loop for as long as the server runs.
struct SealingService: Service {
    let server: LedgerRPCServer

    func run() async throws {
        // Graceful shutdown cancels the loop between blocks; a block being sealed completes first.
        try await cancelWhenGracefulShutdown { await server.runSealing() }
    }
}

/// Where submitters wait for the verdict on their transactions.
actor OutcomeBoard {
    private var expected: Set<Hash256> = []
    private var done: [Hash256: LedgerRPC.SubmissionResult] = [:]
    private var waiting: [Hash256: CheckedContinuation<LedgerRPC.SubmissionResult, Never>] = [:]

    /// Registers interest before submitting, so a block sealed in between is not missed; false when the id
    /// is already awaited.
    func expect(_ id: Hash256) -> Bool { expected.insert(id).inserted }

    func forget(_ id: Hash256) { expected.remove(id) }

    func outcome(of id: Hash256) async -> LedgerRPC.SubmissionResult {
        if let result = done.removeValue(forKey: id) { return result }
        return await withCheckedContinuation { waiting[id] = $0 }
    }

    func publish(_ outcome: BlockOutcome) {
        let height = outcome.block?.header.height
        for id in outcome.accepted {
            deliver(id, .init(id: id.hex, status: .accepted, height: height))
        }
        for (id, error) in outcome.rejected {
            var alreadySettled: Bool?
            if case .jobAlreadySettled = error { alreadySettled = true }
            deliver(id, .init(id: id.hex, status: .rejected, error: error.description, alreadySettled: alreadySettled))
        }
    }

    func failAll(_ reason: String) {
        for id in expected where done[id] == nil {
            deliver(id, .init(id: id.hex, status: .rejected, error: reason))
        }
    }

    private func deliver(_ id: Hash256, _ result: LedgerRPC.SubmissionResult) {
        guard expected.remove(id) != nil else { return }
        if let continuation = waiting.removeValue(forKey: id) {
            continuation.resume(returning: result)
        } else {
            done[id] = result
        }
    }
}
