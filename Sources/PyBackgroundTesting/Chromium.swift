import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A real headless Chromium (Debian's `chromium`), driven through the DevTools protocol over
/// `--remote-debugging-pipe` (messages of JSON ended by NUL on its descriptors 3 and 4): open a
/// page, evaluate JavaScript in it, take a screenshot. For the dashboard's browser test.
///
/// ```swift
/// let browser = try Chromium.started()
/// let page = try browser.open("http://127.0.0.1:9464/")
/// let title = try browser.evaluate("document.title", in: page)   // "pybgd"
/// ```
public final class Chromium {
    private let pid: pid_t
    private let toBrowser: Int32
    private let fromBrowser: Int32
    private var buffer: [UInt8] = []
    private var nextID = 0
    private let profile: URL

    /// Where Debian installs it.
    public static let path = "/usr/bin/chromium"

    /// Starts a browser and waits until it answers (`Browser.getVersion`). A browser that dies
    /// before its first answer is started again, up to `attempts` times in all: that is Chromium's
    /// start, not the page under test (a fresh clone's whole run on CI once lost the browser there,
    /// its log saying nothing). Each death's exit status is written to standard error; a death
    /// after the first answer is the test's failure.
    public static func started(attempts: Int = 3) throws -> Chromium {
        var attempt = 1
        while true {
            let browser = try Chromium()
            do {
                try browser.call("Browser.getVersion")
                return browser
            } catch let error as HarnessError where attempt < attempts && error.description.hasPrefix("the browser's pipe closed") {
                FileHandle.standardError.write(Data("Chromium died before its first answer (attempt \(attempt) of \(attempts)): \(error)\n".utf8))
                attempt += 1
            }
        }
    }

    /// Starts the browser with a fresh profile; throws when it is not installed.
    public init() throws {
        guard FileManager.default.isExecutableFile(atPath: Self.path) else {
            throw HarnessError("\(Self.path) is not installed (scripts/test installs Debian's chromium)")
        }
        profile = try TemporaryDirectory.make("pybgd-chromium")
        var inbound: [Int32] = [-1, -1]
        var outbound: [Int32] = [-1, -1]
        guard pipe(&inbound) == 0, pipe(&outbound) == 0 else { throw HarnessError("pipe: \(errno)") }
        // Out of the way of 3 and 4, which the child gets them as.
        let childRead = fcntl(outbound[0], F_DUPFD_CLOEXEC, 100)
        let childWrite = fcntl(inbound[1], F_DUPFD_CLOEXEC, 100)
        close(outbound[0])
        close(inbound[1])
        toBrowser = outbound[1]
        fromBrowser = inbound[0]
        _ = fcntl(toBrowser, F_SETFD, FD_CLOEXEC)
        _ = fcntl(fromBrowser, F_SETFD, FD_CLOEXEC)

        // A browser that dies makes the next write to its pipe raise SIGPIPE, which would end the
        // whole test process (every other test with it): ignored, the write fails and says so.
        signal(SIGPIPE, SIG_IGN)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, childRead, 3)
        posix_spawn_file_actions_adddup2(&actions, childWrite, 4)
        // Nothing else of the test process: other tests' pipes held open by the browser would
        // keep their readers from ever seeing the end. (glibc's addclosefrom_np is not in Swift's
        // Glibc module; a descriptor closed meanwhile is passed over by the child.)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let descriptor = Int32(name), descriptor > 4, descriptor != childRead, descriptor != childWrite {
                posix_spawn_file_actions_addclose(&actions, descriptor)
            }
        }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, profile.appendingPathComponent("chromium.log").path, O_WRONLY | O_CREAT, 0o600)
        // Through sh, to start with a umask of its own: the test process's is narrowed at times
        // (a state store opened, a socket bound, by daemons other tests run in-process), and a
        // Chromium started under umask 177 makes directories it cannot enter and dies (SIGTRAP).
        let arguments = UmaskLauncher.argv(
            umask: 0o022, program: Self.path,
            arguments: [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check", "--disable-extensions", "--remote-debugging-pipe", "--window-size=1280,900",
                "--enable-logging=stderr", "--user-data-dir=\(profile.path)", "about:blank",
            ])
        let argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // A process group of its own: signals other tests send to theirs never reach it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attributes, 0)
        var child: pid_t = 0
        let status = posix_spawn(&child, UmaskLauncher.shell, &actions, &attributes, argv, environ)
        close(childRead)
        close(childWrite)
        guard status == 0 else { throw HarnessError("cannot start \(Self.path): \(String(cString: strerror(status)))") }
        pid = child
    }

    deinit {
        _ = try? call("Browser.close", timeout: 5)
        close(toBrowser)
        close(fromBrowser)
        var status: Int32 = 0
        for _ in 0..<100 where waitpid(pid, &status, WNOHANG) == 0 { usleep(50_000) }
        if waitpid(pid, &status, WNOHANG) == 0 {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
        }
        try? FileManager.default.removeItem(at: profile)
    }

    /// The end of what the browser wrote on stderr, for a failure's message.
    private var logTail: String {
        let text = (try? String(contentsOf: profile.appendingPathComponent("chromium.log"), encoding: .utf8)) ?? ""
        return String(text.suffix(2000))
    }

    /// Why the pipe closed: how the browser ended (waited for up to a second: the pipe closes
    /// just before the exit) and the end of its log.
    private var pipeClosed: HarnessError {
        var status: Int32 = 0
        var ended = "it had not exited a second later"
        for _ in 0..<100 {
            let waited = waitpid(pid, &status, WNOHANG)
            if waited == pid {
                let signal = status & 0x7f
                ended = signal == 0 ? "it exited with status \((status >> 8) & 0xff)" : "it was killed by signal \(signal)"
                break
            }
            if waited < 0 {
                ended = "it had already been waited for"
                break
            }
            usleep(10_000)
        }
        return HarnessError("the browser's pipe closed; \(ended); its log ends: \(logTail)")
    }

    /// Opens `url` in a new tab; returns the session to address the page with.
    public func open(_ url: String) throws -> String {
        let target = try call("Target.createTarget", ["url": url])
        guard let targetID = target["targetId"] as? String else { throw HarnessError("no target: \(target)") }
        let attached = try call("Target.attachToTarget", ["targetId": targetID, "flatten": true])
        guard let session = attached["sessionId"] as? String else { throw HarnessError("not attached: \(attached)") }
        return session
    }

    /// The value of a JavaScript expression in the page (its JSON value: strings, numbers,
    /// booleans, arrays, objects, or nil).
    public func evaluate(_ expression: String, in session: String) throws -> Any? {
        let reply = try call("Runtime.evaluate", ["expression": expression, "returnByValue": true], session: session)
        if let exception = reply["exceptionDetails"] { throw HarnessError("JavaScript threw: \(exception)") }
        return (reply["result"] as? [String: Any])?["value"]
    }

    /// A PNG of the page as it looks now, written to `file`.
    public func screenshot(of session: String, to file: URL) throws {
        let reply = try call("Page.captureScreenshot", ["format": "png"], session: session)
        guard let data = (reply["data"] as? String).flatMap({ Data(base64Encoded: $0) }) else { throw HarnessError("no screenshot") }
        try FileManager.default.createDirectory(at: file.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: file)
    }

    /// Sends a command and returns its result; events that come meanwhile are passed over.
    @discardableResult
    public func call(_ method: String, _ parameters: [String: Any] = [:], session: String? = nil, timeout: Double = 30) throws -> [String: Any] {
        nextID += 1
        let id = nextID
        var message: [String: Any] = ["id": id, "method": method, "params": parameters]
        if let session { message["sessionId"] = session }
        var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message))
        bytes.append(0)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { write(toBrowser, $0.baseAddress! + written, $0.count - written) }
            guard count > 0 else { throw pipeClosed }
            written += count
        }
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let reply = try readMessage(until: deadline)
            guard reply["id"] as? Int == id else { continue }
            if let error = reply["error"] { throw HarnessError("\(method): \(error)") }
            return reply["result"] as? [String: Any] ?? [:]
        }
    }

    private func readMessage(until deadline: Date) throws -> [String: Any] {
        while true {
            if let end = buffer.firstIndex(of: 0) {
                let data = Data(buffer[..<end])
                buffer.removeFirst(end + 1)
                return (try JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            }
            var descriptor = pollfd(fd: fromBrowser, events: Int16(POLLIN), revents: 0)
            let left = Int32(max(0, deadline.timeIntervalSinceNow) * 1000)
            guard poll(&descriptor, 1, left) > 0 else { throw HarnessError("the browser did not answer in time") }
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let count = chunk.withUnsafeMutableBytes { read(fromBrowser, $0.baseAddress!, $0.count) }
            guard count > 0 else { throw pipeClosed }
            buffer += chunk[..<count]
        }
    }
}
