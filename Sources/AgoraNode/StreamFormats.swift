import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation

/// How a streamed answer is written as Server-Sent Events: the events before the job runs, one per piece
/// of output, the closing ones with the receipt, and one for a failure. The node's streaming path (admission,
/// cancellation, receipt, settlement) is the same for every format.
protocol StreamFormat: Sendable {
    func opening() -> [Data]
    func delta(_ delta: CompletionDelta) -> [Data]
    func closing(_ outcome: CompletionOutcome, receipt: JobReceipt) -> [Data]
    func failure(_ message: String) -> Data
}

/// Chat and legacy completion chunks (`chat.completion.chunk`, `text_completion`).
struct ChatStreamFormat: StreamFormat {
    let context: NodeService.JobContext
    let writer: ChunkWriter
    let chat: Bool
    /// Text offsets of the legacy endpoint's logprobs count the UTF-8 bytes of each choice's tokens so far.
    let offsets: TextOffsets
    /// With tools on offer, text that may open a call is held back, and a call's text is never streamed as
    /// content: the calls go out whole at the end.
    let toolText: ToolTextFilter?

    let tools: ToolFormat

    init(context: NodeService.JobContext, modelName: String, tools: ToolFormat) {
        self.context = context
        self.tools = tools
        writer = ChunkWriter(context: context, modelName: modelName)
        chat = context.endpoint == .chat
        offsets = TextOffsets(choices: context.job.n)
        toolText =
            context.job.tools.map { $0.choice != .none } == true
            ? ToolTextFilter(choices: context.job.n, trigger: tools.trigger) : nil
    }

    func opening() -> [Data] {
        guard chat else { return [] }
        return (0..<context.job.n).map { writer.chunk(.init(index: $0, delta: .init(role: "assistant", content: ""))) }
    }

    func delta(_ delta: CompletionDelta) -> [Data] {
        let text = toolText?.push(delta.choice, delta.text) ?? delta.text
        guard !text.isEmpty || !delta.logprobs.isEmpty else { return [] }
        let logprobs = delta.logprobs.isEmpty ? nil : delta.logprobs
        if chat {
            return [
                writer.chunk(
                    .init(
                        index: delta.choice, delta: .init(content: text), logprobs: logprobs.map { .chat(.init($0)) }))
            ]
        }
        let offset = offsets.advance(delta.choice, by: delta.logprobs.reduce(0) { $0 + $1.bytes.count })
        return [
            writer.chunk(
                .init(
                    index: delta.choice, text: delta.text, logprobs: logprobs.map { .text(.init($0, offset: offset)) }))
        ]
    }

    /// One closing event per choice (after its tool calls, if any); the last also carries the usage and the
    /// receipt.
    func closing(_ outcome: CompletionOutcome, receipt: JobReceipt) -> [Data] {
        var events: [Data] = []
        let usage = Usage(promptTokens: outcome.promptTokens, completionTokens: outcome.completionTokens)
        for (index, choice) in outcome.choices.enumerated() {
            var final: CompletionResponses.ChunkChoice =
                chat
                ? .init(index: index, delta: .init(), finishReason: choice.finishReason)
                : .init(index: index, text: "", finishReason: choice.finishReason)
            if chat, context.job.tools != nil {
                let answer = CompletionResponses.chatAnswer(
                    choice, index: index, job: context.job, jobID: context.jobID, format: tools)
                if let calls = answer.message.toolCalls {
                    let deltas = calls.enumerated().map {
                        CompletionResponses.ToolCallDelta(index: $0, id: $1.id, function: $1.function)
                    }
                    events.append(writer.chunk(.init(index: index, delta: .init(toolCalls: deltas))))
                } else if let held = toolText?.finish(index), !held.isEmpty {
                    events.append(writer.chunk(.init(index: index, delta: .init(content: held))))
                }
                final.finishReason = answer.finishReason
                final.agoraText = choice.text
            }
            let last = index == outcome.choices.count - 1
            events.append(writer.chunk(final, usage: last ? usage : nil, receipt: last ? receipt : nil))
        }
        return events
    }

    func failure(_ message: String) -> Data {
        let body = CompletionResponses.json(
            OpenAIErrorBody(message: message, type: "server_error", code: "inference_failed"))
        return Data("data: ".utf8) + body + Data("\n\n".utf8)
    }
}

/// The Responses API's typed events: `response.created`, `response.in_progress`, the message item and its
/// text part opened, `response.output_text.delta` per piece, then the text, part and item done, any function
/// call items, and `response.completed` with the whole response (and the receipt).
final class ResponsesStreamFormat: StreamFormat, @unchecked Sendable {
    let context: NodeService.JobContext
    let modelName: String
    private let lock = NSLock()
    private var sequence = 0
    private let toolText: ToolTextFilter?
    let tools: ToolFormat

    init(context: NodeService.JobContext, modelName: String, tools: ToolFormat) {
        self.context = context
        self.modelName = modelName
        self.tools = tools
        toolText =
            context.job.tools.map { $0.choice != .none } == true
            ? ToolTextFilter(choices: 1, trigger: tools.trigger) : nil
    }

    var messageID: String { "msg_" + context.jobID.short }

    private func event(_ type: String, _ fields: [(String, any Encodable)]) -> Data {
        lock.withLock {
            defer { sequence += 1 }
            return ResponsesAPI.event(type, sequence: sequence, fields)
        }
    }

    private func response(_ outcome: CompletionOutcome?, receipt: JobReceipt?) -> ResponsesAPI.Response {
        ResponsesAPI.response(
            outcome, job: context.job, jobID: context.jobID, created: context.created, model: modelName,
            receipt: receipt, format: tools)
    }

    func opening() -> [Data] {
        let item = ResponsesAPI.OutputItem(
            type: "message", id: messageID, status: "in_progress", role: "assistant", content: [])
        return [
            event("response.created", [("response", response(nil, receipt: nil))]),
            event("response.in_progress", [("response", response(nil, receipt: nil))]),
            event("response.output_item.added", [("output_index", 0), ("item", item)]),
            event(
                "response.content_part.added",
                [
                    ("item_id", messageID), ("output_index", 0), ("content_index", 0),
                    ("part", ResponsesAPI.OutputText(text: "")),
                ]),
        ]
    }

    func delta(_ delta: CompletionDelta) -> [Data] {
        let text = toolText?.push(delta.choice, delta.text) ?? delta.text
        guard !text.isEmpty else { return [] }
        return [
            event(
                "response.output_text.delta",
                [("item_id", messageID), ("output_index", 0), ("content_index", 0), ("delta", text)])
        ]
    }

    func closing(_ outcome: CompletionOutcome, receipt: JobReceipt) -> [Data] {
        let final = response(outcome, receipt: receipt)
        let message = final.output.first { $0.type == "message" }
        let text = message?.content?.first?.text ?? ""
        var events = [
            event(
                "response.output_text.done",
                [("item_id", messageID), ("output_index", 0), ("content_index", 0), ("text", text)]),
            event(
                "response.content_part.done",
                [
                    ("item_id", messageID), ("output_index", 0), ("content_index", 0),
                    ("part", ResponsesAPI.OutputText(text: text)),
                ]),
            event(
                "response.output_item.done",
                [
                    ("output_index", 0),
                    (
                        "item",
                        ResponsesAPI.OutputItem(
                            type: "message", id: messageID, status: "completed", role: "assistant",
                            content: [ResponsesAPI.OutputText(text: text)])
                    ),
                ]),
        ]
        // The streamed message is output 0; the calls follow it.
        let calls = final.output.filter { $0.type == "function_call" }
        for (number, item) in calls.enumerated() {
            let index = number + 1
            events.append(event("response.output_item.added", [("output_index", index), ("item", item)]))
            events.append(
                event(
                    "response.function_call_arguments.done",
                    [("item_id", item.id), ("output_index", index), ("arguments", item.arguments ?? "")]))
            events.append(event("response.output_item.done", [("output_index", index), ("item", item)]))
        }
        let done = final.status == "completed" ? "response.completed" : "response.incomplete"
        events.append(event(done, [("response", final)]))
        return events
    }

    func failure(_ message: String) -> Data {
        event("error", [("code", "inference_failed"), ("message", message)])
    }
}

/// Formats one SSE event of a streamed answer.
struct ChunkWriter: Sendable {
    let context: NodeService.JobContext
    let modelName: String

    @Sendable func chunk(_ choice: CompletionResponses.ChunkChoice, usage: Usage? = nil, receipt: JobReceipt? = nil)
        -> Data
    {
        let value = CompletionResponses.Chunk(
            id: context.responseID, object: context.endpoint == .chat ? "chat.completion.chunk" : "text_completion",
            created: context.created, model: modelName, choices: [choice], usage: usage, agoraReceipt: receipt)
        return Data("data: ".utf8) + CompletionResponses.json(value) + Data("\n\n".utf8)
    }
}

/// Holds back streamed text that may open a tool call (`<tool_call>`), and everything from a call on.
final class ToolTextFilter: @unchecked Sendable {
    private let lock = NSLock()
    private var held: [String]
    private var inCall: [Bool]
    private let trigger: String

    init(choices: Int, trigger: String) {
        self.trigger = trigger
        held = Array(repeating: "", count: choices)
        inCall = Array(repeating: false, count: choices)
    }

    /// The part of `text` (after what was held) that is safe to stream as content.
    func push(_ choice: Int, _ text: String) -> String {
        lock.withLock {
            held[choice] += text
            if inCall[choice] { return "" }
            if let found = held[choice].range(of: trigger) {
                let before = String(held[choice][..<found.lowerBound])
                held[choice] = String(held[choice][found.lowerBound...])
                inCall[choice] = true
                return before
            }
            var keep = min(trigger.count - 1, held[choice].count)
            while keep > 0, !trigger.hasPrefix(held[choice].suffix(keep)) { keep -= 1 }
            let emit = String(held[choice].dropLast(keep))
            held[choice] = String(held[choice].suffix(keep))
            return emit
        }
    }

    /// What is still held at the end (the answer held no complete call).
    func finish(_ choice: Int) -> String { lock.withLock { held[choice] } }
}

/// Bytes of text streamed so far per choice (the legacy endpoint's `text_offset`).
final class TextOffsets: @unchecked Sendable {
    private let lock = NSLock()
    private var offsets: [Int]

    init(choices: Int) { offsets = Array(repeating: 0, count: choices) }

    /// The offset before `count` more bytes of choice `choice`.
    func advance(_ choice: Int, by count: Int) -> Int {
        lock.withLock {
            defer { offsets[choice] += count }
            return offsets[choice]
        }
    }
}
