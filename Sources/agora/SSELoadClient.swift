import Foundation

#if canImport(FoundationNetworking)
    import FoundationNetworking
#endif

/// Streams OpenAI-style chat completions and times them: when the request left, when the first generated
/// text arrived, when the stream ended. URLSession's delegate is the one streaming reader Foundation offers on
/// Linux (its async `bytes(for:)` is Darwin-only), so the bench needs no extra HTTP client.
final class SSELoadClient: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Timing: Sendable {
        var status: Int
        var text: String
        var completionTokens: Int
        /// Seconds from sending to the first non-empty piece of text, and to the end of the stream.
        var firstText: Double
        var total: Double
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private final class Pending {
        let started = DispatchTime.now().uptimeNanoseconds
        var firstText: UInt64?
        var buffer = Data()
        var body = Data()
        var status = 0
        let continuation: CheckedContinuation<Timing, any Error>
        init(_ continuation: CheckedContinuation<Timing, any Error>) { self.continuation = continuation }
    }

    private let lock = NSLock()
    private var pending: [Int: Pending] = [:]
    private lazy var session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 64
        configuration.timeoutIntervalForRequest = 600
        return URLSession(configuration: configuration, delegate: self, delegateQueue: nil)
    }()

    /// Posts `body` (a streaming chat request) to `url` and waits for the end of its stream.
    func stream(_ url: URL, body: Data) async throws -> Timing {
        var request = URLRequest(url: url)
        request.httpMethod = "POST"
        request.httpBody = body
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        return try await withCheckedThrowingContinuation { continuation in
            let task = session.dataTask(with: request)
            lock.withLock { pending[task.taskIdentifier] = Pending(continuation) }
            task.resume()
        }
    }

    func urlSession(
        _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
        completionHandler: @escaping (URLSession.ResponseDisposition) -> Void
    ) {
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        lock.withLock { pending[dataTask.taskIdentifier]?.status = status }
        completionHandler(.allow)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let now = DispatchTime.now().uptimeNanoseconds
        lock.withLock {
            guard let state = pending[dataTask.taskIdentifier] else { return }
            state.body.append(data)
            guard state.firstText == nil else { return }
            state.buffer.append(data)
            // Complete SSE lines only: the first one whose delta carries text is the first token's arrival.
            while let newline = state.buffer.firstIndex(of: UInt8(ascii: "\n")) {
                let line = state.buffer[state.buffer.startIndex..<newline]
                state.buffer.removeSubrange(state.buffer.startIndex...newline)
                if let piece = Self.piece(line), !piece.isEmpty {
                    state.firstText = now
                    break
                }
            }
        }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?) {
        let now = DispatchTime.now().uptimeNanoseconds
        guard let state = lock.withLock({ pending.removeValue(forKey: task.taskIdentifier) }) else { return }
        if let error {
            state.continuation.resume(throwing: error)
            return
        }
        var text = ""
        var pieces = 0
        var usage: Int?
        for line in state.body.split(separator: UInt8(ascii: "\n")) {
            guard let json = Self.event(line) else { continue }
            if let piece = Self.text(of: json), !piece.isEmpty {
                text += piece
                pieces += 1
            }
            if let tokens = (json["usage"] as? [String: Any])?["completion_tokens"] as? Int { usage = tokens }
        }
        let seconds = { (end: UInt64) in Double(end - state.started) / 1e9 }
        state.continuation.resume(
            returning: Timing(
                status: state.status, text: text, completionTokens: usage ?? pieces,
                firstText: seconds(state.firstText ?? now), total: seconds(now)))
    }

    private static func event(_ line: Data.SubSequence) -> [String: Any]? {
        let prefix = Data("data: ".utf8)
        guard line.starts(with: prefix) else { return nil }
        return try? JSONSerialization.jsonObject(with: Data(line.dropFirst(prefix.count))) as? [String: Any]
    }

    private static func text(of event: [String: Any]) -> String? {
        guard let choice = (event["choices"] as? [[String: Any]])?.first else { return nil }
        return (choice["delta"] as? [String: Any])?["content"] as? String ?? choice["text"] as? String
    }

    private static func piece(_ line: Data.SubSequence) -> String? { event(line).flatMap(text(of:)) }
}
