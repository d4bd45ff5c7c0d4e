import Foundation

/// The one list of request parameters a node understands. Anything else is refused with 400
/// `unsupported_parameter` naming it: a client that asks for `best_of: 3` or a message `name` must learn that it
/// did not get it, rather than receive an answer computed without it (OpenAI itself ignores unknown
/// fields; a market cannot, since the receipt would then vouch for something the buyer did not ask).
public enum SupportedParameters {
    /// Parameters of `POST /v1/chat/completions` that decide the output (all in the canonical request) or
    /// that change nothing in it (`model` names the served model; `stream` and `stream_options` only the
    /// framing — usage is always sent; `user` is an end-user id, never stored or logged).
    public static let chat: Set<String> = [
        "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "seed", "stop",
        "stream", "stream_options", "user", "n", "logprobs", "top_logprobs", "min_p", "repetition_penalty",
        "presence_penalty", "frequency_penalty", "logit_bias", "response_format", "tools", "tool_choice",
        "parallel_tool_calls",
    ]
    /// Parameters of `POST /v1/completions`.
    public static let completions: Set<String> = [
        "model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "seed", "stop", "stream", "stream_options",
        "user", "n", "logprobs", "min_p", "repetition_penalty", "presence_penalty", "frequency_penalty", "logit_bias",
    ]
    /// Parameters of `POST /v1/embeddings`: `dimensions` only at the model's own width, `encoding_format`
    /// `float` or `base64` (the same bytes spelled two ways), `user` as for chat.
    public static let embeddings: Set<String> = ["input", "model", "encoding_format", "dimensions", "user"]
    /// Keys of a chat message.
    public static let message: Set<String> = ["role", "content", "tool_calls", "tool_call_id"]
    /// OpenAI parameters accepted only at the value that leaves the answer as it is (the values clients
    /// often send explicitly): no server-side best-of, no echo of the prompt.
    public static let neutral: [String: String] = ["best_of": "1", "echo": "false"]

    /// Throws for the first parameter of `body` (a JSON request) that the endpoint does not honour. A JSON
    /// `null` counts as absent. A body that is not a JSON object passes: the typed decoder refuses it next.
    public static func check(_ data: Data, chat: Bool) throws(RequestError) {
        guard let body = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else { return }
        let values = try? JSONDecoder().decode(NeutralValues.self, from: data)
        let known = chat ? Self.chat : completions
        for key in body.keys.sorted() where !(body[key] is NSNull) && !known.contains(key) {
            if values?.isNeutral(key) == true { continue }
            let detail = neutral[key].map { " (only \(key)=\($0) is)" } ?? ""
            throw RequestError(
                "parameter '\(key)' is not supported by this node\(detail)", param: key, code: "unsupported_parameter")
        }
        if let options = body["stream_options"], !(options is NSNull) {
            guard let options = options as? [String: Any] else {
                throw RequestError("stream_options must be an object", param: "stream_options")
            }
            for key in options.keys.sorted() where key != "include_usage" {
                throw RequestError(
                    "parameter 'stream_options.\(key)' is not supported by this node", param: "stream_options.\(key)",
                    code: "unsupported_parameter")
            }
        }
        guard chat, let messages = body["messages"] as? [Any] else { return }
        for (index, message) in messages.enumerated() {
            guard let message = message as? [String: Any] else { continue }
            for key in message.keys.sorted() where !(message[key] is NSNull) && !Self.message.contains(key) {
                throw RequestError(
                    "message field '\(key)' is not supported by this node", param: "messages.\(index).\(key)",
                    code: "unsupported_parameter")
            }
            if let parts = message["content"] as? [Any] { try checkParts(parts, message: index) }
        }
    }

    /// Content parts: text parts only (`{"type": "text", "text": …}`), each refusal naming the part.
    private static func checkParts(_ parts: [Any], message: Int) throws(RequestError) {
        for (index, part) in parts.enumerated() {
            let path = "messages.\(message).content.\(index)"
            guard let part = part as? [String: Any], let type = part["type"] as? String else {
                throw RequestError("a content part must be an object with a string 'type'", param: path)
            }
            guard type == "text" else {
                throw RequestError(
                    "content part type '\(type)' is not supported by this node (only 'text' parts are)",
                    param: "\(path).type", code: "unsupported_parameter")
            }
            guard part["text"] is String else {
                throw RequestError("a text part needs a string 'text'", param: "\(path).text")
            }
            for key in part.keys.sorted() where key != "type" && key != "text" && !(part[key] is NSNull) {
                throw RequestError(
                    "content part field '\(key)' is not supported by this node", param: "\(path).\(key)",
                    code: "unsupported_parameter")
            }
        }
    }

    /// The neutral-valued parameters, typed (JSON booleans stay booleans: `"logprobs": 0` is not `false`).
    private struct NeutralValues: Decodable {
        var bestOf: Int?
        var echo: Bool?

        enum CodingKeys: String, CodingKey {
            case echo
            case bestOf = "best_of"
        }

        func isNeutral(_ key: String) -> Bool {
            switch key {
            case "best_of": bestOf == 1
            case "echo": echo == false
            default: false
            }
        }
    }
}
