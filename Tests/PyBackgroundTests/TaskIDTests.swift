import Foundation
import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("TaskID")
struct TaskIDTests {
    @Test("a random id is 32 lowercase hex digits with the uuid4 version and variant bits")
    func randomIDIsUUID4Hex() {
        for _ in 0..<1000 {
            let text = TaskID.random().description
            #expect(text.count == 32)
            #expect(text.allSatisfy { "0123456789abcdef".contains($0) })
            let characters = Array(text)
            #expect(characters[12] == "4", "version nibble of \(text)")
            #expect("89ab".contains(characters[16]), "variant nibble of \(text)")
            // Python's uuid agrees on the layout.
            #expect(UUID(uuidString: dashed(text))?.uuidString.lowercased() == dashed(text))
        }
    }

    @Test("ids joined by commas in one allocation read as their descriptions joined", arguments: [0, 1, 2, 100])
    func commaSeparatedMatchesJoinedDescriptions(count: Int) {
        var generator = SplitMix64(seed: UInt64(count) &+ 7)
        let ids = (0..<count).map { _ in TaskID(high: generator.next(), low: generator.next()) }
        #expect(TaskID.commaSeparated(ids) == ids.map(\.description).joined(separator: ","))
    }

    @Test("random ids do not repeat")
    func randomIDsAreDistinct() {
        let ids = Set((0..<10_000).map { _ in TaskID.random() })
        #expect(ids.count == 10_000)
    }

    @Test(
        "parsing",
        arguments: [
            ("0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"),
            ("0123456789ABCDEF0123456789ABCDEF", "0123456789abcdef0123456789abcdef"),
            ("00000000000000000000000000000000", "00000000000000000000000000000000"),
            ("ffffffffffffffffffffffffffffffff", "ffffffffffffffffffffffffffffffff"),
        ])
    func parsesHex(input: String, canonical: String) {
        #expect(TaskID(input)?.description == canonical)
    }

    @Test(
        "rejects what is not 32 hex digits",
        arguments: [
            "", "0123", "0123456789abcdef0123456789abcde", "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef0123456789abcdeg", "01234567-89ab-cdef-0123-456789abcdef", " 123456789abcdef0123456789abcdef",
            "é123456789abcdef0123456789abcde",
        ])
    func rejectsMalformed(input: String) {
        #expect(TaskID(input) == nil)
    }

    @Test("format then parse gives back the same id")
    func roundTrips() {
        for _ in 0..<1000 {
            let id = TaskID.random()
            #expect(TaskID(id.description) == id)
        }
    }

    @Test("encodes as its hex string and refuses a malformed one")
    func codable() throws {
        let id = TaskID.random()
        let data = try JSONEncoder().encode([id])
        #expect(String(decoding: data, as: UTF8.self) == "[\"\(id)\"]")
        #expect(try JSONDecoder().decode([TaskID].self, from: data) == [id])
        #expect(throws: DecodingError.self) { try JSONDecoder().decode([TaskID].self, from: Data("[\"xyz\"]".utf8)) }
    }

    private func dashed(_ hex: String) -> String {
        let c = Array(hex)
        return [c[0..<8], c[8..<12], c[12..<16], c[16..<20], c[20..<32]].map { String($0) }.joined(separator: "-")
    }
}
