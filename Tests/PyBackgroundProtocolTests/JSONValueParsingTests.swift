import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// `JSONValue(parsingJSON:)` stands in for JSONDecoder where start-up matters: whatever it takes
/// must read exactly as JSONDecoder reads it, and what JSONDecoder refuses it must refuse.
@Suite("JSON read without JSONDecoder")
struct JSONValueParsingTests {
    /// JSONDecoder's reading, nil where it throws.
    static func decoded(_ text: String) -> JSONValue? { try? ProtocolJSON.decode(JSONValue.self, from: text) }

    @Test(
        "text both readers take reads the same",
        arguments: [
            "null", "true", "false", "0", "-0", "1", "-17", "1.0", "-0.0", "1e2", "1E+2", "0.1e1", "2.5", "-2.5e-3", "1e-400",
            "9223372036854775807", "-9223372036854775808", "9223372036854775808", "123456789012345678901234",
            "9007199254740991.0", "0.30000000000000004", "1.7976931348623157e-308", "5e-324",
            #""""#, #""a""#, #""é😀 \u00e9\ud83d\ude00""#, #""\"\\\/\b\f\n\r\t""#, #""\u0000\u001f\u007f""#, "\"\u{7F}\"",
            "[]", "{}", "[1,[2,[3,{}]]]", #"{"a":1,"b":[true,null],"c":{"d":"e"}}"#, " \t\r\n[ 1 , 2 ]\n ",
            #"{"id":"0123456789abcdef0123456789abcdef","name":"now","args":[],"kwargs":{},"state":"finished","submitted_at":1765000000.125,"result":"2026-12-07"}"#,
        ])
    func takenTextReadsAsJSONDecoderReadsIt(text: String) throws {
        let parsed = try #require(JSONValue(parsingJSON: text))
        #expect(parsed == Self.decoded(text))
    }

    @Test(
        "text JSONDecoder refuses is refused",
        arguments: [
            "", " ", "nul", "truex", "01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "NaN", "Infinity", "1E400", "-1e999",
            #"""#, #""\"#, #""\x""#, #""\u12""#, #""\ud800""#, #""\udc00""#, #""\ud800\u0041""#, "\"\t\"", "\"a\nb\"",
            "[", "[,1]", "[1 2]", "{", #"{"a"}"#, #"{"a":}"#, #"{a:1}"#, #"{"a":1 "b":2}"#, "[] []", "1 2",
        ])
    func refusedTextIsRefused(text: String) {
        #expect(Self.decoded(text) == nil)
        #expect(JSONValue(parsingJSON: text) == nil)
    }

    @Test(
        "text it leaves to JSONDecoder (a key twice, a rounded whole number past 2^53, nesting past 512, a trailing comma JSONDecoder forgives) is left",
        arguments: [
            #"{"a":1,"a":2}"#, "9007199254740993.0", "1e300", "1.7976931348623157e308", "[1,]", #"{"a":1,}"#,
            String(repeating: "[", count: 600) + String(repeating: "]", count: 600),
        ])
    func leftTextIsLeft(text: String) {
        #expect(JSONValue(parsingJSON: text) == nil)
    }

    @Test("10,000 random values, as the encoder writes them, read back the same both ways")
    func randomValuesReadTheSame() throws {
        var random = SplitMix64(seed: 20_261_207)
        for _ in 0..<10_000 {
            let value = Self.randomValue(depth: 0, using: &random)
            let text = ProtocolJSON.encode(value)
            guard let parsed = JSONValue(parsingJSON: text) else {
                // Only the documented case is left to JSONDecoder.
                #expect(Self.holdsLargeWholeDouble(value), "\(text)")
                continue
            }
            #expect(parsed == Self.decoded(text), "\(text)")
        }
    }

    @Test("20,000 texts with a byte changed: whatever it takes, JSONDecoder reads the same")
    func mutatedTextsNeverReadOtherwise() {
        var random = SplitMix64(seed: 7)
        let alphabet = Array(#"{}[]",:0123456789.-+eE\u"abtrfn lx"#.utf8)
        var taken = 0
        for _ in 0..<20_000 {
            var bytes = Array(ProtocolJSON.encode(Self.randomValue(depth: 0, using: &random)).utf8)
            let position = Int.random(in: 0..<bytes.count, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0: bytes[position] = alphabet.randomElement(using: &random)!
            case 1: bytes.remove(at: position)
            default: bytes.insert(alphabet.randomElement(using: &random)!, at: position)
            }
            let text = String(decoding: bytes, as: UTF8.self)
            guard let parsed = JSONValue(parsingJSON: text) else { continue }
            taken += 1
            #expect(parsed == Self.decoded(text), "\(text)")
        }
        #expect(taken > 1_000, "the mutations should leave many texts valid")
    }

    static func holdsLargeWholeDouble(_ value: JSONValue) -> Bool {
        switch value {
        case .double(let double): double.rounded() == double && abs(double) >= 9_007_199_254_740_992
        case .array(let elements): elements.contains(where: holdsLargeWholeDouble)
        case .object(let fields): fields.values.contains(where: holdsLargeWholeDouble)
        default: false
        }
    }

    static func randomValue(depth: Int, using random: inout SplitMix64) -> JSONValue {
        switch Int.random(in: 0..<(depth > 3 ? 5 : 7), using: &random) {
        case 0: return .null
        case 1: return .bool(Bool.random(using: &random))
        case 2:
            let magnitudes = [9, 1_000, 1 << 40, Int.max]
            return .int(Int.random(in: -magnitudes.randomElement(using: &random)!...Int.max, using: &random) / 2)
        case 3:
            let double = Double.random(in: -1e6...1e6, using: &random) * [1, 1e-9, 1e20, 1e200].randomElement(using: &random)!
            // The encoder writes a whole double as a whole number, which both read as an Int.
            return double.rounded() == double && abs(double) < 9_007_199_254_740_992 ? .int(Int(double)) : .double(double)
        case 4:
            let pieces = ["a", "é", "😀", "\"", "\\", "/", "\n", "\t", "\u{0}", "\u{1F}", "\u{7F}", " ", "x y", "\u{2028}"]
            return .string((0..<Int.random(in: 0..<6, using: &random)).map { _ in pieces.randomElement(using: &random)! }.joined())
        case 5:
            return .array((0..<Int.random(in: 0..<4, using: &random)).map { _ in randomValue(depth: depth + 1, using: &random) })
        default:
            var fields: [String: JSONValue] = [:]
            for index in 0..<Int.random(in: 0..<4, using: &random) {
                fields["k\(index)\(["", "é", "\"", " "].randomElement(using: &random)!)"] = randomValue(depth: depth + 1, using: &random)
            }
            return .object(fields)
        }
    }
}
