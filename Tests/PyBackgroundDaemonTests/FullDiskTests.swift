import Foundation
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// The state store on a small tmpfs that fills up: pybgd never tells a client one thing and the
/// store another. Needs root (to mount the tmpfs).
@Suite("a full disk under the state store", .serialized, .enabled(if: SmallFileSystem.canMount))
struct FullDiskTests {
    static let config = """
        scheduler: {max_workers: 1, keep_finished: null}
        tasks:
          - name: hold
            argv: [sh, -c, 'while [ ! -e "$0" ]; do sleep 0.02; done; echo released', "{flag}"]
            parameters: [{name: flag, type: string}]
          - {name: echo, argv: [echo, "{message}"], parameters: [{name: message, type: string}]}
        """

    @Test(
        "an acknowledged task whose start cannot be written waits instead of failing; an end that cannot be written is written later; a restart agrees with every reply"
    )
    func fullDiskNeverContradictsReplies() throws {
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let disk = try SmallFileSystem(at: directory.appendingPathComponent("store"), size: "2m")
        let state = disk.path + "/pybgd.sqlite"
        let flag = directory.appendingPathComponent("release").path
        var told: [String: FuturePayload] = [:]
        var queued: [String] = []
        do {
            let daemon = try DaemonHarness(config: Self.config, arguments: ["--state", state], directory: directory)
            // An ended task on disk, for CLEAN to try to remove.
            let early = try daemon.submit("echo", "early")
            told[early] = try daemon.ok(.wait(id: early, timeout: 30), as: FuturePayload.self)
            let hold = try daemon.submit("hold", flag)
            #expect(try awaitState(of: hold, in: daemon) { $0 == "running" })
            for index in 0..<3 { queued.append(try daemon.submit("echo", "before-\(index)")) }

            try disk.fill()
            // The store's file may still have room in its last page: submit until it refuses.
            var refused: String?
            for index in 0..<2000 where refused == nil {
                switch try daemon.send(.submit(task: "echo", arguments: ["during-\(index)"])) {
                case .ok(let json): queued.append(try ProtocolJSON.decode(SubmitPayload.self, from: json).id)
                case .error(let code, let message):
                    #expect(code == .storeFailed, "\(message)")
                    refused = message
                }
            }
            try #require(refused != nil, "the store never refused a write on a full disk")
            #expect(refused?.contains("not accepted") == true, "\(refused ?? "")")
            // pybgctl: a distinct exit status, the reason on stderr.
            let submitted = try PybgctlTests.pybgctl(["submit", "echo", "x"], socket: daemon.socketPath)
            #expect(submitted.status == 74, "\(submitted)")
            #expect(submitted.stderr.contains("state store"), "\(submitted.stderr)")
            // CLEAN cannot remove anything from a store that cannot write, and says so.
            guard case .error(.storeFailed, let cleanMessage) = try daemon.send(.clean(olderThan: nil)) else {
                Issue.record("CLEAN on a full disk should be store-failed")
                return
            }
            #expect(cleanMessage.contains("nothing was removed"), "\(cleanMessage)")
            #expect(try daemon.ok(.result(id: early), as: FuturePayload.self).state == "finished", "CLEAN kept it in the tables too")
            let cleaned = try PybgctlTests.pybgctl(["clean"], socket: daemon.socketPath)
            #expect(cleaned.status == 74 && cleaned.stderr.contains("nothing was removed"), "\(cleaned)")

            // The held task ends while the disk is full: its end cannot be written yet, but the
            // client is told, so it must be written later.
            _ = FileManager.default.createFile(atPath: flag, contents: Data())
            let ended = try daemon.ok(.wait(id: hold, timeout: 30), as: FuturePayload.self)
            #expect(ended.state == "finished")
            told[hold] = ended
            // The next task reaches the worker, but its start cannot be recorded: it waits, not failed.
            #expect(try awaitState(of: queued[0], in: daemon) { $0 != "pending" })
            for _ in 0..<10 {
                let states = try queued.map { try daemon.ok(.result(id: $0), as: FuturePayload.self).state }
                #expect(states.allSatisfy { $0 == "pending" || $0 == "running" }, "\(states)")
                usleep(50_000)
            }

            try disk.free()
            for id in queued {
                let future = try daemon.ok(.wait(id: id, timeout: 60), as: FuturePayload.self)
                #expect(future.state == "finished", "\(future)")
                told[id] = future
            }
            _ = try daemon.ok(.shutdown(wait: true), as: ShutdownPayload.self)
            #expect(daemon.waitForExit())
            #expect(daemon.process.terminationStatus == 0, "\(daemon.log)")
            #expect(daemon.log.contains("cannot record that a task starts"), "the start was never refused: the test did not reach its case")
        }

        let restarted = try DaemonHarness(config: Self.config, arguments: ["--state", state], directory: directory)
        for (id, before) in told {
            let after = try restarted.ok(.result(id: id), as: FuturePayload.self)
            #expect(after.state == before.state, "\(id): told \(before.state), restarted with \(after.state)")
            #expect(after.result == before.result, "\(id)")
        }
    }

    private func awaitState(
        of id: String, in daemon: DaemonHarness, timeout: TimeInterval = 30,
        _ condition: (String) -> Bool
    ) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition(try daemon.ok(.result(id: id), as: FuturePayload.self).state) { return true }
            usleep(10_000)
        }
        return false
    }
}

/// A tmpfs of a given size, mounted for one test and unmounted after it; `fill()` takes every
/// byte left, `free()` gives them back.
final class SmallFileSystem {
    static let canMount = getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/bin/mount")

    let path: String
    private var filler: String { path + "/filler" }

    init(at url: URL, size: String) throws {
        path = url.path
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try Self.run("/bin/mount", "-t", "tmpfs", "-o", "size=\(size),mode=0700", "tmpfs", path)
    }

    deinit { try? Self.run("/bin/umount", "-l", path) }

    /// Writes a file until the file system has no byte left.
    func fill() throws {
        let descriptor = open(filler, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        guard descriptor >= 0 else { throw HarnessError("cannot create \(filler)") }
        defer { close(descriptor) }
        var chunk = 1 << 16
        let bytes = [UInt8](repeating: 0x61, count: chunk)
        while chunk >= 1 {
            if bytes.withUnsafeBytes({ write(descriptor, $0.baseAddress, chunk) }) < 0 {
                guard errno == ENOSPC else { throw HarnessError("filling \(path): errno \(errno)") }
                chunk /= 2
            }
        }
    }

    func free() throws { try FileManager.default.removeItem(atPath: filler) }

    private static func run(_ arguments: String...) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: arguments[0])
        process.arguments = Array(arguments.dropFirst())
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw HarnessError("\(arguments.joined(separator: " ")) failed") }
    }
}
