import Foundation
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// What people see: text from tasks and clients never drives their terminal, tables stay bounded
/// whatever a task printed, a failed command's output is shown as it was, bytes stay bytes.
@Suite("pybgctl's output for people and for scripts", .serialized)
struct TerminalOutputTests {
    /// An OSC title change, a clear-screen, a bidirectional override: what a hostile submission carries.
    static let hostile = "\u{1B}]0;TITLE\u{07}\u{1B}[2J\u{202E}evil"

    let daemon: DaemonHarness

    init() throws {
        daemon = try DaemonHarness(
            config: """
                tasks:
                  - {name: echo, argv: [echo, "{message}"], parameters: [{name: message, type: string}]}
                  - {name: big, argv: [sh, -c, "yes abcdefghijklmnopqrstuvwxyz | head -c 1048576"]}
                  - {name: mixed, argv: [sh, -c, "echo out; echo err >&2; exit 3"]}
                  - {name: chatty, argv: [sh, -c, "echo 0123456789abcdefghij"], max_output_bytes: 10}
                  - {name: latin1, argv: [printf, 'caf\\351\\n']}
                """)
    }

    func run(_ arguments: String...) throws -> PybgctlTests.Run {
        try PybgctlTests.pybgctl(arguments, socket: daemon.socketPath)
    }

    /// Runs pybgctl with a terminal as its stdout and stderr (util-linux `script`); returns what
    /// the terminal received.
    func onTerminal(_ arguments: String...) throws -> (status: Int32, output: [UInt8]) {
        let binary = DaemonHarness.productDirectory.appendingPathComponent("pybgctl").path
        let quoted = ([binary] + arguments).map { "'" + $0.replacingOccurrences(of: "'", with: "'\\''") + "'" }.joined(separator: " ")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", quoted, "/dev/null"]
        var environment = ProcessInfo.processInfo.environment
        environment["PYBGD_SOCKET"] = daemon.socketPath
        environment["COLUMNS"] = "200"
        process.environment = environment
        let out = Pipe()
        process.standardOutput = out
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, Array(data))
    }

    @Test(
        "control characters a client submitted or a task printed are shown escaped, on a terminal and in a pipe; --json keeps them exact",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func escapesAreMadeVisible() throws {
        let id = try run("submit", "echo", Self.hostile, "--wait")
        #expect(id.status == 0)
        for command in [["status"], ["tasks"], ["futures"], ["list"]] {
            let piped = try PybgctlTests.pybgctl(command, socket: daemon.socketPath)
            #expect(!piped.stdout.unicodeScalars.contains { $0 == "\u{1B}" || $0 == "\u{07}" || $0 == "\u{202E}" }, "\(command): \(piped.stdout)")
            if command != ["list"] { #expect(piped.stdout.contains("\\u{1B}]0;TITLE\\u{7}\\u{1B}[2J"), "\(command): \(piped.stdout)") }
            let terminal = try onTerminal(command[0])
            #expect(terminal.status == 0)
            #expect(
                !terminal.output.contains(0x1B) && !terminal.output.contains(0x07),
                "\(command) on a terminal: \(String(decoding: terminal.output, as: UTF8.self))")
        }
        let latest = try run("latest").stdout.trimmingCharacters(in: .newlines)
        for command in [["wait", latest], ["result", latest]] {
            let terminal = try onTerminal(command[0], command[1])
            #expect(!terminal.output.contains(0x1B), "\(command) on a terminal")
            #expect(String(decoding: terminal.output, as: UTF8.self).contains("\\u{1B}]0;TITLE"))
        }
        // A pipe gets the task's output as it was: scripts read exactly what the command printed.
        #expect(try run("wait", latest).stdout == Self.hostile + "\n")
        // --json is exact: the JSON escapes decode back to the very characters.
        let json = try run("futures", "--json").stdout
        let futures = try ProtocolJSON.decode(FuturesPayload.self, from: json)
        #expect(futures.futures.last?.args == [.string(Self.hostile)])
    }

    @Test("a table cell is one bounded line however much a task printed; wait prints the whole output")
    func tablesStayBounded() throws {
        let waited = try run("submit", "big", "--wait")
        #expect(waited.status == 0)
        #expect(waited.stdout.utf8.count == 1_048_576)
        for command in ["status", "futures"] {
            let shown = try run(command)
            #expect(shown.status == 0)
            #expect(shown.stdout.utf8.count < 2_000, "\(command) printed \(shown.stdout.utf8.count) bytes")
            let longest = shown.stdout.split(separator: "\n").map(\.count).max() ?? 0
            #expect(longest <= 200, "\(command): a line of \(longest) characters")
            #expect(shown.stdout.contains("  abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxy…\n"), "\(shown.stdout)")
        }
    }

    @Test("a failed command's stdout goes to stdout and its stderr to stderr, then the failure line; a cut output says so")
    func failedCommandOutput() throws {
        let failed = try run("submit", "mixed", "--wait")
        #expect(failed.status == 1)
        #expect(failed.stdout == "out\n")
        #expect(failed.stderr.hasPrefix("err\n"), "\(failed.stderr)")
        #expect(failed.stderr.contains("exit-status: mixed exited with status 3"), "\(failed.stderr)")
        let id = try run("latest").stdout.trimmingCharacters(in: .newlines)
        let result = try run("result", id)
        #expect(result.status == 1 && result.stdout == "out\n", "result prints the same")

        let cut = try run("submit", "chatty", "--wait")
        #expect(cut.status == 0)
        #expect(cut.stdout == "0123456789")
        #expect(cut.stderr.contains("the stdout of task") && cut.stderr.contains("was cut after its first 10 bytes"), "\(cut.stderr)")
    }

    @Test(
        "output that is not UTF-8 keeps its bytes: exact in a pipe, base64 in JSON, escaped on a terminal",
        .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func bytesThatAreNotUTF8() throws {
        let binary = DaemonHarness.productDirectory.appendingPathComponent("pybgctl")
        let process = Process()
        process.executableURL = binary
        process.arguments = ["submit", "latin1", "--wait"]
        process.environment = ProcessInfo.processInfo.environment.merging(["PYBGD_SOCKET": daemon.socketPath]) { _, new in new }
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let bytes = Array(out.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        #expect(bytes == [0x63, 0x61, 0x66, 0xE9, 0x0A], "\(bytes)")

        let id = try run("latest").stdout.trimmingCharacters(in: .newlines)
        let future = try ProtocolJSON.decode(FuturePayload.self, from: try run("result", id, "--json").stdout)
        guard case .object(let fields)? = future.result else {
            Issue.record("no result")
            return
        }
        #expect(fields["stdout_base64"] == .string("Y2Fm6Qo="))
        #expect(fields["stderr_base64"] == nil, "only output that is not UTF-8 gets it")
        let terminal = String(decoding: try onTerminal("wait", id).output, as: UTF8.self)
        #expect(terminal.contains("caf\\xE9"), "\(terminal)")
    }
}
