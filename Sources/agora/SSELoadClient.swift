import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// Streams OpenAI-style chat completions and times them: when the request left, when the first generated
/// text arrived, when the stream ended. Written on blocking POSIX sockets, one OS thread per request, on
/// purpose: a load generator must cost the machine next to nothing, and URLSession on Linux (libcurl and a
/// run loop) cost the server under test a measurable share of the two cores and slowed llama-server's answers
/// by half. HTTP/1.1 with `Connection: close`; chunked or identity bodies.
struct SSELoadClient: Sendable {
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

    /// Posts `body` (a streaming chat request) to `url` (http://127.0.0.1:PORT/PATH) and waits for the end of
    /// its stream, on a thread of its own.
    func stream(_ url: URL, body: Data) async throws -> Timing {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try Self.run(url, body: body) }) }
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    private static func run(_ url: URL, body: Data) throws -> Timing {
        guard let host = url.host, let port = url.port else { throw Failure(description: "bad URL \(url)") }
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        guard inet_pton(AF_INET, host == "localhost" ? "127.0.0.1" : host, &address.sin_addr) == 1 else {
            throw Failure(description: "only numeric IPv4 hosts are supported, not \(host)")
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw Failure(description: "cannot connect to \(host):\(port)") }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))

        let head =
            "POST \(url.path) HTTP/1.1\r\nHost: \(host):\(port)\r\nContent-Type: application/json\r\n"
            + "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let started = DispatchTime.now().uptimeNanoseconds
        try send(fd, Data(head.utf8) + body)

        var reader = ResponseReader()
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        var firstText: UInt64?
        while true {
            let count = read(fd, &buffer, buffer.count)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { break }
            reader.feed(buffer[0..<count])
            if firstText == nil && reader.sawText { firstText = DispatchTime.now().uptimeNanoseconds }
        }
        let ended = DispatchTime.now().uptimeNanoseconds
        let seconds = { (end: UInt64) in Double(end - started) / 1e9 }
        return Timing(
            status: reader.status, text: reader.text, completionTokens: reader.usage ?? reader.pieces,
            firstText: seconds(firstText ?? ended), total: seconds(ended))
    }

    private static func send(_ fd: Int32, _ data: Data) throws {
        try data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let sent = write(fd, raw.baseAddress! + offset, raw.count - offset)
                if sent < 0 && errno == EINTR { continue }
                guard sent > 0 else { throw Failure(description: "write failed") }
                offset += sent
            }
        }
    }

    /// An HTTP/1.1 response fed as it arrives: status, then the body (de-chunked), cut into SSE lines.
    private struct ResponseReader {
        var status = 0
        var text = ""
        var pieces = 0
        var usage: Int?
        var sawText: Bool { pieces > 0 }
        private var raw: [UInt8] = []
        private var headersDone = false
        private var chunked = false
        private var chunk = ChunkState.size
        private var line: [UInt8] = []

        private enum ChunkState {
            /// A size line is expected.
            case size
            /// Bytes of the current chunk still to come.
            case data(Int)
            /// The CRLF after a chunk's data.
            case trailer
            case done
        }

        mutating func feed(_ bytes: ArraySlice<UInt8>) {
            raw += bytes
            if !headersDone {
                guard let end = Self.find([13, 10, 13, 10], in: raw) else { return }
                let head = String(decoding: raw[0..<end], as: UTF8.self)
                status = Int(head.split(separator: " ", maxSplits: 2).dropFirst().first ?? "") ?? 0
                chunked = head.lowercased().contains("transfer-encoding: chunked")
                raw.removeFirst(end + 4)
                headersDone = true
            }
            guard chunked else {
                body(raw[...])
                raw.removeAll(keepingCapacity: true)
                return
            }
            var index = 0
            loop: while index < raw.count {
                switch chunk {
                case .size:
                    guard let newline = raw[index...].firstIndex(of: 10) else { break loop }
                    let sizeLine = String(decoding: raw[index..<newline], as: UTF8.self)
                    index = newline + 1
                    let digits = sizeLine.split(separator: ";").first?.trimmingCharacters(in: .whitespacesAndNewlines)
                    guard let size = digits.flatMap({ Int($0, radix: 16) }) else { continue }
                    chunk = size == 0 ? .done : .data(size)
                case .data(let left):
                    let take = min(left, raw.count - index)
                    body(raw[index..<index + take])
                    index += take
                    chunk = left == take ? .trailer : .data(left - take)
                case .trailer:
                    guard let newline = raw[index...].firstIndex(of: 10) else { break loop }
                    index = newline + 1
                    chunk = .size
                case .done:
                    index = raw.count
                }
            }
            raw.removeFirst(index)
        }

        private mutating func body(_ bytes: ArraySlice<UInt8>) {
            for byte in bytes {
                if byte == 10 {
                    event(line)
                    line.removeAll(keepingCapacity: true)
                } else {
                    line.append(byte)
                }
            }
        }

        private mutating func event(_ line: [UInt8]) {
            let prefix = Array("data: ".utf8)
            guard line.count > prefix.count, Array(line.prefix(prefix.count)) == prefix,
                let json = try? JSONSerialization.jsonObject(with: Data(line.dropFirst(prefix.count)))
                    as? [String: Any]
            else { return }
            if let choice = (json["choices"] as? [[String: Any]])?.first,
                let piece = (choice["delta"] as? [String: Any])?["content"] as? String ?? choice["text"] as? String,
                !piece.isEmpty
            {
                text += piece
                pieces += 1
            }
            if let tokens = (json["usage"] as? [String: Any])?["completion_tokens"] as? Int { usage = tokens }
        }

        private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
            guard haystack.count >= needle.count else { return nil }
            for start in 0...(haystack.count - needle.count)
            where haystack[start..<start + needle.count].elementsEqual(needle) {
                return start
            }
            return nil
        }
    }
}
