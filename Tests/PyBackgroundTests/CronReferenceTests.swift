import Foundation
import PyBackgroundTesting
import Testing

@testable import PyBackground

/// Our cron arithmetic against croniter's (Python, from PyPI), over thousands of random expressions
/// and instants in UTC. `scripts/test` makes the venv and names its python in PYBGD_CRON_REFERENCE;
/// without it this suite is skipped, and says so.
@Suite(
    "Cron against croniter",
    .enabled(if: ProcessInfo.processInfo.environment["PYBGD_CRON_REFERENCE"] != nil, "PYBGD_CRON_REFERENCE (a python with croniter) is not set"))
struct CronReferenceTests {
    /// Expressions both implementations read the same way. Vixie cron and croniter differ on one
    /// point, left out here: a day field `*/n` beside a restricted other day field (Vixie: "both must
    /// match"; croniter: "either"); the table tests cover our side of it. A range of one value
    /// (`4-4`) is left out too: croniter 7 matches every value for it.
    static func expression(_ random: inout SplitMix64) -> String {
        func field(_ range: ClosedRange<Int>, star: Bool = true, names: [String] = []) -> String {
            switch Int.random(in: star ? 0..<7 : 2..<7, using: &random) {
            case 0: return "*"
            case 1: return "*/\(Int.random(in: 1...max(1, (range.upperBound - range.lowerBound) / 2), using: &random))"
            case 2:
                let low = Int.random(in: range.lowerBound...(range.upperBound - 1), using: &random)
                return "\(low)-\(Int.random(in: (low + 1)...range.upperBound, using: &random))"
            case 3:
                let low = Int.random(in: range.lowerBound...(range.upperBound - 1), using: &random)
                return "\(low)-\(Int.random(in: (low + 1)...range.upperBound, using: &random))/\(Int.random(in: 1...4, using: &random))"
            case 4 where !names.isEmpty: return names.randomElement(using: &random)!
            case 5: return (0..<Int.random(in: 2...4, using: &random)).map { _ in "\(Int.random(in: range, using: &random))" }.joined(separator: ",")
            default: return "\(Int.random(in: range, using: &random))"
            }
        }
        let seconds = Int.random(in: 0..<4, using: &random) == 0 ? field(0...59) + " " : ""
        var dayOfMonth = field(1...31)
        var dayOfWeek = field(0...6, names: ["MON", "fri", "Sun"])
        if dayOfMonth != "*" && dayOfWeek != "*" {
            dayOfMonth = field(1...31, star: false)
            dayOfWeek = field(0...6, star: false, names: ["MON", "fri", "Sun"])
        }
        return seconds + [field(0...59), field(0...23), dayOfMonth, field(1...12, names: ["JAN", "jun", "Dec"]), dayOfWeek].joined(separator: " ")
    }

    @Test("5,000 random expressions and instants: the same next firing as croniter")
    func agreesWithCroniter() throws {
        let python = ProcessInfo.processInfo.environment["PYBGD_CRON_REFERENCE"]!
        var random = SplitMix64(seed: 0x5EED_C207)
        var cases: [(String, Int64)] = []
        while cases.count < 5_000 {
            let text = Self.expression(&random)
            guard (try? CronExpression(text)) != nil else { continue }  // never-matching ones: refused, not compared
            cases.append((text, Int64.random(in: 946_684_800...4_102_444_800, using: &random)))
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/cron_reference.py").path
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = [script]
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        let text = cases.map { "\($0.0)\t\($0.1)\n" }.joined()
        let writer = Thread {
            try? input.fileHandleForWriting.write(contentsOf: Data(text.utf8))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        let answers = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        process.waitUntilExit()
        try #require(answers.count == cases.count, "croniter answered \(answers.count) of \(cases.count) lines")
        let utc = TimeZone(identifier: "UTC")!
        var disagreements: [String] = []
        for ((expression, start), answer) in zip(cases, answers) {
            let ours = CronSchedule(try CronExpression(expression), timeZone: utc).nextFire(after: Date(timeIntervalSince1970: Double(start)))
            let theirs = Int64(answer)
            if ours.map({ Int64($0.timeIntervalSince1970) }) != theirs {
                disagreements.append("\(expression) after \(start): ours \(ours.map { "\(Int64($0.timeIntervalSince1970))" } ?? "none"), croniter \(answer)")
            }
        }
        #expect(disagreements.isEmpty, "\(disagreements.count) disagreements, first: \(disagreements.prefix(5).joined(separator: "; "))")
    }
}
