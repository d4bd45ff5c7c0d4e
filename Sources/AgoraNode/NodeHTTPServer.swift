import AgoraWire
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// The node's HTTP face (Hummingbird 2): OpenAI-compatible endpoints plus health and metrics. All the
/// decisions live in `NodeService`; this type only moves bytes between HTTP and it.
public struct NodeHTTPServer: Sendable {
    public let service: NodeService
    public let host: String
    public let port: Int

    public init(service: NodeService, host: String = "127.0.0.1", port: Int = 8080) {
        self.service = service
        self.host = host
        self.port = port
    }

    /// Builds the application. `onRunning` receives the bound port (useful with port 0). `services` run beside
    /// the server (a `SettlementService`); on graceful shutdown the server stops first, then they do.
    public func application(
        services: [any Service] = [], onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        let service = self.service
        let limit = service.configuration.maxBodyBytes

        @Sendable func completion(_ endpoint: CompletionEndpoint, _ request: Request, _ context: BasicRequestContext)
            async -> Response
        {
            var request = request
            let body: ByteBuffer
            do {
                // One byte over the limit is enough to tell the body is too large.
                body = try await request.collectBody(upTo: limit + 1)
            } catch {
                return Self.response(NodeError.bodyTooLarge(limit: limit).reply)
            }
            let payment = request.headers[HTTPField.Name(X402.paymentSignatureHeader)!]
            let host = request.head.authority ?? "127.0.0.1"
            let resource = "http://\(host)\(request.uri.path)"
            let encapsulatedKey = request.headers[HTTPField.Name(BodyEncryption.encapsulatedKeyHeader)!]
            let reply = await service.complete(
                endpoint, body: Data(body.readableBytesView), payment: payment, resource: resource,
                encapsulatedKey: encapsulatedKey)
            return Self.response(reply)
        }

        router.post("v1/chat/completions") { request, context in await completion(.chat, request, context) }
        router.post("v1/completions") { request, context in await completion(.text, request, context) }
        router.post("v1/responses") { request, context in await completion(.responses, request, context) }
        router.post("v1/embeddings") { request, context in await completion(.embeddings, request, context) }
        router.get("v1/models") { _, _ in Self.response(service.models()) }
        router.get("health") { _, _ in Self.response(await service.health()) }
        router.get("metrics") { _, _ in Self.response(await service.metricsText()) }

        var logger = Logger(label: "agora.node.http")
        logger.logLevel = .warning
        return Application(
            router: router, configuration: .init(address: .hostname(host, port: port), serverName: "agora-node"),
            services: services, onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
            logger: logger)
    }

    static func response(_ reply: NodeReply) -> Response {
        switch reply {
        case .body(let status, let headers, let body):
            return Response(
                status: .init(code: status), headers: fields(headers),
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        case .stream(let headers, let events):
            return Response(
                status: .ok, headers: fields(headers),
                body: ResponseBody(asyncSequence: events.map { ByteBuffer(bytes: $0) }))
        }
    }

    static func fields(_ headers: [String: String]) -> HTTPFields {
        var fields = HTTPFields()
        for (name, value) in headers {
            if let fieldName = HTTPField.Name(name) { fields[fieldName] = value }
        }
        return fields
    }
}

/// A node server running in this process, stopped gracefully (in-flight requests finish, no error noise).
/// Tests, benchmarks and the demo use it to run nodes on loopback ports.
public final class RunningNodeServer: Sendable {
    public let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    /// Starts `server` and returns once it is listening (on the port it bound, when asked for port 0).
    public static func start(_ server: NodeHTTPServer, services: [any Service] = []) async throws -> RunningNodeServer {
        try await start { onRunning in server.application(services: services, onRunning: onRunning) }
    }

    /// Starts the ledger RPC (`agora ledger serve`) the same way.
    public static func start(_ server: LedgerRPCServer) async throws -> RunningNodeServer {
        try await start { onRunning in server.application(onRunning: onRunning) }
    }

    static func start<App: ApplicationProtocol>(
        _ makeApplication: (@escaping @Sendable (Int) async -> Void) -> App
    ) async throws -> RunningNodeServer {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        let app = makeApplication { continuation.yield($0) }
        var logger = Logger(label: "agora.node.lifecycle")
        logger.logLevel = .error
        let group = ServiceGroup(services: [app], gracefulShutdownSignals: [], logger: logger)
        let task = Task { try await group.run() }
        for await port in ports { return RunningNodeServer(port: port, group: group, task: task) }
        _ = try await task.value
        throw CancellationError()
    }

    public var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    public func stop() async {
        await group.triggerGracefulShutdown()
        _ = await task.result
    }
}
