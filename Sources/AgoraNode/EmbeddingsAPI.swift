import AgoraCore
import AgoraLedger
import AgoraWire
import Foundation

/// `POST /v1/embeddings`: OpenAI's request and answer shapes around an embeddings job
/// (`JobRequest.Input.embeddings`), with Agora's signed receipt added as `agora_receipt`.
enum EmbeddingsAPI {
    /// How the vectors are written in the answer.
    enum Encoding: Sendable {
        /// JSON numbers (each the shortest decimal that reads back as the same float).
        case float
        /// Each vector's little-endian float32 bytes, base64: the bytes the output hash covers.
        case base64
    }

    struct Request {
        var job: JobRequest
        var model: String?
        var encoding: Encoding
    }

    /// The body's fields, typed strictly (a boolean is no number, a float no token id).
    private struct Body: Decodable {
        var input: Input?
        var model: String?
        var encodingFormat: String?
        var dimensions: Int?
        var user: String?
        enum CodingKeys: String, CodingKey {
            case input, model, dimensions, user
            case encodingFormat = "encoding_format"
        }
    }

    /// OpenAI's four input shapes: a string, token ids, or an array of strings and token-id arrays.
    private enum Input: Decodable {
        case one(JobRequest.EmbeddingInput)
        case many([JobRequest.EmbeddingInput])

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                self = .one(.text(text))
            } else if let ids = try? container.decode([Int32].self) {
                self = .one(.tokens(ids))
            } else {
                self = .many(try container.decode([JobRequest.EmbeddingInput].self))
            }
        }
    }

    /// The job a body asks for; every refusal names the field.
    static func request(_ body: Data, dimensions width: Int) throws(RequestError) -> Request {
        guard let object = (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] else {
            throw RequestError("the body is not a JSON object")
        }
        for key in object.keys.sorted() where !(object[key] is NSNull) && !SupportedParameters.embeddings.contains(key)
        {
            throw RequestError(
                "parameter '\(key)' is not supported by this node", param: key, code: "unsupported_parameter")
        }
        let fields: Body
        do { fields = try JSONDecoder().decode(Body.self, from: body) } catch let DecodingError.typeMismatch(_, context)
        {
            let path = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
            throw RequestError(
                path.hasPrefix("input")
                    ? "input must be a string, token ids, or an array of strings or token-id arrays"
                    : "wrong type for '\(path)'", param: path.hasPrefix("input") ? "input" : path)
        } catch {
            throw RequestError("the body does not decode: \(error)")
        }
        var encoding = Encoding.float
        switch fields.encodingFormat {
        case nil, "float": encoding = .float
        case "base64": encoding = .base64
        default: throw RequestError("encoding_format must be 'float' or 'base64'", param: "encoding_format")
        }
        if let requested = fields.dimensions, requested != width {
            throw RequestError(
                "this model's vectors have \(width) dimensions; other sizes are not supported", param: "dimensions",
                code: "unsupported_parameter")
        }
        let inputs: [JobRequest.EmbeddingInput]
        switch fields.input {
        case nil: throw RequestError("missing required field 'input'", param: "input")
        case .one(let input): inputs = [input]
        case .many(let list): inputs = list
        }
        guard !inputs.isEmpty, inputs.count <= JobRequest.maxEmbeddingInputs else {
            throw RequestError("input must hold 1 to \(JobRequest.maxEmbeddingInputs) items", param: "input")
        }
        for (index, input) in inputs.enumerated() {
            guard case .tokens(let ids) = input else { continue }
            let param = inputs.count == 1 ? "input" : "input.\(index)"
            guard !ids.isEmpty, ids.count <= JobRequest.maxEmbeddingTokens, ids.allSatisfy({ $0 >= 0 }) else {
                throw RequestError(
                    "\(param) must hold 1 to \(JobRequest.maxEmbeddingTokens) non-negative token ids", param: param)
            }
        }
        return Request(job: .embeddings(inputs), model: fields.model, encoding: encoding)
    }

    struct Item: Encodable {
        var object = "embedding"
        var index: Int
        var embedding: Vector
    }

    /// A vector as `encoding_format` asks.
    enum Vector: Encodable {
        case float([Float])
        case base64(String)

        func encode(to encoder: any Encoder) throws {
            var container = encoder.singleValueContainer()
            switch self {
            case .float(let values): try container.encode(values)
            case .base64(let text): try container.encode(text)
            }
        }
    }

    struct Usage: Encodable {
        var promptTokens: Int
        var totalTokens: Int
        enum CodingKeys: String, CodingKey {
            case promptTokens = "prompt_tokens"
            case totalTokens = "total_tokens"
        }
    }

    struct Answer: Encodable {
        var object = "list"
        var data: [Item]
        var model: String
        var usage: Usage
        var agoraReceipt: JobReceipt
        enum CodingKeys: String, CodingKey {
            case object, data, model, usage
            case agoraReceipt = "agora_receipt"
        }
    }

    /// A vector's little-endian float32 bytes (what `ReceiptVerifier.embeddingsHash` hashes).
    static func bytes(_ vector: [Float]) -> Data {
        var data = Data(capacity: vector.count * 4)
        for value in vector { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
        return data
    }

    static func answer(
        _ outcome: CompletionOutcome, encoding: Encoding, model: String, receipt: JobReceipt
    ) -> Answer {
        let vectors = outcome.embeddings ?? []
        let items = vectors.enumerated().map { index, vector in
            Item(
                index: index,
                embedding: encoding == .base64 ? .base64(bytes(vector).base64EncodedString()) : .float(vector))
        }
        return Answer(
            data: items, model: model,
            usage: Usage(promptTokens: outcome.promptTokens, totalTokens: outcome.promptTokens), agoraReceipt: receipt)
    }
}
