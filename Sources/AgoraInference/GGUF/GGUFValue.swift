/// One metadata value of a GGUF file, with the width and signedness the file gave it.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8)
    case int8(Int8)
    case uint16(UInt16)
    case int16(Int16)
    case uint32(UInt32)
    case int32(Int32)
    case float32(Float)
    case uint64(UInt64)
    case int64(Int64)
    case float64(Double)
    case bool(Bool)
    case string(String)
    case array([GGUFValue])

    /// Any integer value that fits an `Int`; `nil` for other kinds and for a `UInt64` above `Int.max`.
    ///
    /// Writers differ on integer widths (one writes `uint32`, another `int32` or `uint64` for the same key),
    /// so readers ask for "an integer" rather than a width.
    public var asInt: Int? {
        switch self {
        case .uint8(let v): Int(v)
        case .int8(let v): Int(v)
        case .uint16(let v): Int(v)
        case .int16(let v): Int(v)
        case .uint32(let v): Int(v)
        case .int32(let v): Int(v)
        case .uint64(let v): Int(exactly: v)
        case .int64(let v): Int(v)
        default: nil
        }
    }

    /// A floating-point value (either width), or an integer converted to `Float`.
    public var asFloat: Float? {
        switch self {
        case .float32(let v): v
        case .float64(let v): Float(v)
        default: asInt.map { Float($0) }
        }
    }

    public var asString: String? {
        if case .string(let s) = self { s } else { nil }
    }

    public var asArray: [GGUFValue]? {
        if case .array(let a) = self { a } else { nil }
    }

    public var asBool: Bool? {
        if case .bool(let b) = self { b } else { nil }
    }
}

/// The value-type tags of the GGUF format.
enum GGUFValueType: UInt32 {
    case uint8 = 0
    case int8 = 1
    case uint16 = 2
    case int16 = 3
    case uint32 = 4
    case int32 = 5
    case float32 = 6
    case bool = 7
    case string = 8
    case array = 9
    case uint64 = 10
    case int64 = 11
    case float64 = 12

    /// The fewest bytes one value of this type can occupy; bounds an array's count by the bytes left before
    /// anything is allocated for it.
    var minimumEncodedSize: Int {
        switch self {
        case .uint8, .int8, .bool: 1
        case .uint16, .int16: 2
        case .uint32, .int32, .float32: 4
        case .uint64, .int64, .float64: 8
        case .string: 8  // the length prefix
        case .array: 12  // element type + count
        }
    }
}
