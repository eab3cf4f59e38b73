import Foundation
import Logging
import PyBackgroundProtocol
import PyBackgroundTesting
import Synchronization
import Testing

@testable import PyBackgroundDaemon

@Suite("JSON logs")
struct JSONLogTests {
    @Test("a line is one JSON object: time, level, message, label, then each metadata field as its own key")
    func line() throws {
        let text = JSONLogHandler.line(
            time: Date(timeIntervalSince1970: 1_795_800_000.123_9), level: .warning, message: "a \"quoted\"\nmessage",
            label: "pybgd", metadata: ["task": "backup", "message": "clash", "ids": .array(["a", "b"]), "pid": "\(42)"])
        #expect(text.hasSuffix("}\n") && !text.dropLast().contains("\n"))
        let object = try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])
        #expect(object["time"] as? String == "2026-11-27T17:20:00.123Z")
        #expect(object["level"] as? String == "warning" && object["message"] as? String == "a \"quoted\"\nmessage")
        #expect(object["label"] as? String == "pybgd" && object["task"] as? String == "backup" && object["pid"] as? String == "42")
        #expect(object["meta.message"] as? String == "clash" && object["ids"] as? [String] == ["a", "b"])
        #expect(text.hasPrefix(#"{"time":"2026-11-27T17:20:00.123Z","level":"warning","message":"#))
    }

    @Test("a logger bootstrapped with it writes what the daemon logs, merged with its own metadata")
    func handler() throws {
        let lines = Mutex<[String]>([])
        var logger = Logger(label: "t") { label in JSONLogHandler(label: label) { line in lines.withLock { $0.append(line) } } }
        logger[metadataKey: "daemon"] = "pybgd"
        logger.info("submitted", metadata: ["id": "3f2a", "uid": "1000"])
        logger.debug("not at info")
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(written[0].utf8)) as? [String: Any])
        #expect(object["message"] as? String == "submitted" && object["id"] as? String == "3f2a" && object["daemon"] as? String == "pybgd")
    }

    @Test("pybgd with log.format json writes only JSON lines, the submission audit with its fields")
    func daemonWritesJSON() throws {
        let daemon = try DaemonHarness(config: "log: {format: json}")
        let id = try daemon.submit("noop")
        _ = try daemon.ok(.wait(id: id, timeout: 30), as: FuturePayload.self)
        #expect(try daemon.send(.shutdown(wait: true)).isOK)
        #expect(daemon.waitForExit())
        let lines = daemon.log.split(separator: "\n")
        #expect(lines.count >= 3)
        var audit: [String: Any]?
        for line in lines {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "\(line)")
            #expect(object["time"] is String && object["level"] is String && object["message"] is String)
            if object["message"] as? String == "submitted" { audit = object }
        }
        let submitted = try #require(audit)
        #expect(submitted["id"] as? String == id && submitted["task"] as? String == "noop" && submitted["uid"] as? String == "\(getuid())")
    }
}
