import Foundation
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// The state store holds every task's arguments and output: it is never readable by other users
/// because of a loose umask.
@Suite("the state store's file permissions", .serialized)
struct StateFilePermissionTests {
    static func mode(_ path: String) throws -> Int {
        try #require(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int)
    }

    @Test("a new store, its write-ahead log and its directory are created 0600 and 0700 under umask 022; a world-readable one is warned of at start")
    func createdPrivate() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("state/pybgd.sqlite").path
        do {
            let daemon = try DaemonHarness(arguments: ["--state", state], directory: directory, umask: 0o022)
            _ = try daemon.ok(.wait(id: try daemon.submit("noop"), timeout: 30), as: FuturePayload.self)
            #expect(try Self.mode(state) == 0o600)
            #expect(try Self.mode(state + "-wal") == 0o600)
            #expect(try Self.mode(directory.appendingPathComponent("state").path) == 0o700)
            daemon.signal(SIGTERM)
            #expect(daemon.waitForExit())
            #expect(!daemon.log.contains("can be read by any user"))
        }
        chmod(state, 0o644)
        let reopened = try DaemonHarness(arguments: ["--state", state], directory: directory)
        reopened.signal(SIGTERM)
        #expect(reopened.waitForExit())
        #expect(
            reopened.log.contains(
                "the state store can be read by any user of this machine, yet it holds every task's arguments and output: chmod o-rwx \(state)"),
            "\(reopened.log)")
    }

    @Test("with state.group the store is 0640 and that group's", .enabled(if: getuid() == 0, "chown to another group needs root"))
    func groupReadable() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let state = directory.appendingPathComponent("pybgd.sqlite").path
        let daemon = try DaemonHarness(config: "state: {group: \"65534\"}", arguments: ["--state", state], directory: directory)
        _ = try daemon.ok(.wait(id: try daemon.submit("noop"), timeout: 30), as: FuturePayload.self)
        #expect(try Self.mode(state) == 0o640)
        #expect(try FileManager.default.attributesOfItem(atPath: state)[.groupOwnerAccountID] as? Int == 65534)
        #expect(try Self.mode(state + "-wal") == 0o640)
    }
}
