#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Any JSON value: task arguments and results as they cross the socket.
///
/// ```swift
/// let result: JSONValue = ["exit_status": 0, "stdout": "done\n"]
/// result.description   // {"exit_status":0,"stdout":"done\n"}
/// ```
public enum JSONValue: Hashable, Sendable, Codable, CustomStringConvertible,
    ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value) where value.isFinite: try container.encode(value)
        case .double(let value): try container.encode("\(value)")  // JSON has no NaN or infinity
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// Compact JSON text, keys sorted.
    public var description: String { ProtocolJSON.encode(self) }

    /// The text a person would expect: strings bare, everything else as JSON.
    public var displayText: String {
        if case .string(let text) = self { return text }
        return description
    }

    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

/// The one JSON configuration both ends use: compact, keys sorted, slashes unescaped.
public enum ProtocolJSON {
    /// One line of compact JSON for `value`.
    public static func encode<Value: Encodable>(_ value: Value) -> String {
        encode(value, with: makeEncoder())
    }

    /// `[…]`: the same text as ``encode(_:)`` of the array, written one element at a time.
    ///
    /// JSONEncoder builds a tree of the whole value before writing any of it: for a table of
    /// 100,000 futures that tree took about 170 MiB, for 25 MB of text.
    public static func encodeArray<Elements: Sequence>(_ elements: Elements) -> String where Elements.Element: Encodable {
        let encoder = makeEncoder()
        var text = "["
        for (index, element) in elements.enumerated() {
            if index > 0 { text += "," }
            text += encode(element, with: encoder)
        }
        return text + "]"
    }

    private static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    private static func encode<Value: Encodable>(_ value: Value, with encoder: JSONEncoder) -> String {
        do {
            return String(decoding: try encoder.encode(value), as: UTF8.self)
        } catch {
            // Only non-conforming floats can fail, and JSONValue writes those as strings.
            return "null"
        }
    }

    /// Decodes a reply payload; throws `bad-request` naming the type on malformed JSON.
    public static func decode<Value: Decodable>(_ type: Value.Type, from text: String) throws(ProtocolError) -> Value {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw ProtocolError(.badRequest, "reply is not the expected \(Value.self) JSON: \(error)")
        }
    }
}
