import Foundation
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// Who may use the socket: the file's mode first, then the peer's credentials (SO_PEERCRED)
/// against `access:` on every connection; and who did what, in the log.
@Suite("access control", .serialized, .enabled(if: PybgctlTests.canSwitchUser, "needs root and setpriv to run pybgctl as another uid"))
struct AccessControlTests {
    /// A daemon whose socket file lets group nogroup (65534) in, so that only `access:` decides.
    static func daemon(access: String) throws -> DaemonHarness {
        let directory = try TemporaryDirectory.make()
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: directory.path)
        return try DaemonHarness(
            config: """
                socket: {mode: "0660", group: nogroup}
                \(access)
                """, directory: directory)
    }

    @Test("a peer not in access.allow_users or allow_groups gets ERR permission-denied; the log names its uid and pid")
    func deniedPeer() throws {
        let daemon = try Self.daemon(access: "access: {allow_groups: []}")
        defer { try? FileManager.default.removeItem(at: daemon.directory) }
        let denied = try PybgctlTests.pybgctl(["submit", "noop", "--socket", daemon.socketPath], socket: nil, asNobody: true)
        #expect(denied.status == 77)
        #expect(denied.stderr == "pybgctl: uid 65534 may not use this pybgd (access.allow_users and access.allow_groups of its config say who may)\n")
        #expect(denied.stdout.isEmpty)

        // Root (and the daemon's own user) always may; the denied submission left nothing behind.
        let statistics = try daemon.ok(.status, as: StatusPayload.self)
        #expect(statistics.latestID == nil)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit())
        #expect(daemon.log.contains("gid=65534 pid=\(denied.pid) uid=65534 [PyBackgroundDaemon] connection refused: not allowed"), "\(daemon.log)")
    }

    @Test("by default the socket's group (mode 0660) is allowed, and each submission is logged with uid and pid")
    func socketGroupAllowedAndSubmissionsLogged() throws {
        let daemon = try Self.daemon(access: "")
        defer { try? FileManager.default.removeItem(at: daemon.directory) }
        let submitted = try PybgctlTests.pybgctl(["submit", "noop", "--socket", daemon.socketPath], socket: nil, asNobody: true)
        #expect(submitted.status == 0, "\(submitted.stderr)")
        let id = submitted.stdout.trimmingCharacters(in: .newlines)
        daemon.signal(SIGTERM)
        #expect(daemon.waitForExit())
        #expect(daemon.log.contains("id=\(id) pid=\(submitted.pid) task=noop uid=65534 [PyBackgroundDaemon] submitted"), "\(daemon.log)")
    }

    @Test("access.allow_users lets a user in by name even when no group is allowed")
    func allowedUser() throws {
        let daemon = try Self.daemon(access: "access: {allow_users: [nobody], allow_groups: []}")
        defer { try? FileManager.default.removeItem(at: daemon.directory) }
        let pinged = try PybgctlTests.pybgctl(["ping", "--socket", daemon.socketPath], socket: nil, asNobody: true)
        #expect(pinged.status == 0, "\(pinged.stderr)")
    }

    @Test("a denied peer cannot shut the daemon down")
    func deniedShutdown() throws {
        let daemon = try Self.daemon(access: "access: {allow_groups: []}")
        defer { try? FileManager.default.removeItem(at: daemon.directory) }
        let refused = try PybgctlTests.pybgctl(["shutdown", "--socket", daemon.socketPath], socket: nil, asNobody: true)
        #expect(refused.status == 77)
        #expect(daemon.process.isRunning)
        #expect(try daemon.ok(.ping, as: PingPayload.self).pid == daemon.process.processIdentifier)
    }
}
