#if canImport(Glibc)
import Glibc
#endif

/// Where `pybgd-exec` is: the small program (`Sources/pybgd-exec/main.c`) that runs each command
/// task in a process group of its own and takes every process of it down when the task is stopped
/// or pybgd dies.
///
/// It is looked up once: next to the running executable (where `swift build` and
/// `scripts/install` put it beside `pybgd`), else in `PATH`. ``Daemon`` refuses to start with
/// command tasks when it is missing, rather than accept tasks it cannot run safely.
enum CommandExecHelper {
    /// The program's file name.
    static let name = "pybgd-exec"

    /// The helper's exit status when it could not start the command (with one line on stderr).
    static let cannotRunStatus: Int32 = 127

    /// Found once, at first use.
    static let path: Result<String, HelperMissing> = locate()

    struct HelperMissing: Error, Hashable {
        let message: String
    }

    private static func locate() -> Result<String, HelperMissing> {
        if let executable = executablePath() {
            let directory = executable.split(separator: "/", omittingEmptySubsequences: false).dropLast().joined(separator: "/")
            if let found = ProgramSearch.find(name, in: directory.isEmpty ? "/" : directory) { return .success(found) }
        }
        if let path = getenv("PATH").map({ String(cString: $0) }), let found = ProgramSearch.find(name, in: path) {
            return .success(found)
        }
        return .failure(
            HelperMissing(
                message:
                    "\(name), which runs command tasks in a process group of their own, is neither next to \(executablePath() ?? "pybgd") nor on PATH; install it beside pybgd (scripts/install does)"
            ))
    }

    private static func executablePath() -> String? {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// The helper's own report that it could not start the command, from the stderr it left: the
    /// line `pybgd-exec: cannot run "PROGRAM": REASON`, alone. nil for anything else (the command's
    /// own output, when the command itself exited 127).
    static func spawnFailure(inStandardError bytes: [UInt8]) -> String? {
        let prefix = Array("\(name): cannot run ".utf8)
        guard bytes.starts(with: prefix), bytes.last == UInt8(ascii: "\n"),
            bytes.dropLast().firstIndex(of: UInt8(ascii: "\n")) == nil
        else { return nil }
        return String(decoding: bytes[prefix.count..<bytes.count - 1], as: UTF8.self)
    }
}
