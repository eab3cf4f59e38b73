import PyBackgroundProtocol

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One blocking connection to `pybgd`'s control socket: write a request line, read a reply line.
/// Plain POSIX sockets, no event loop, so a command-line call starts and ends in a few milliseconds.
///
/// ```swift
/// let connection = try ControlConnection(path: "/run/pybgd/pybgd.sock")
/// let reply = try connection.send(.submit(task: "now", arguments: []))
/// ```
public final class ControlConnection {
    /// The socket path this connection uses.
    public let path: String
    private let descriptor: Int32
    private var buffer: [UInt8] = []
    /// Bytes of `buffer` already returned as lines: dropped in bulk, not per line, so reading a
    /// long run of pipelined replies stays linear.
    private var consumed = 0
    private var scanned = 0

    /// Connects to the socket at `path`. With `connectTimeout`, a daemon that does not accept
    /// (stopped, its backlog full) makes the connect, and later writes, fail after that many
    /// seconds rather than block.
    public init(path: String, connectTimeout: Double? = nil) throws(ClientError) {
        self.path = path
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard descriptor >= 0 else {
            throw ClientError(.connectFailed, "cannot create a socket: \(String(cString: strerror(errno)))", path: path)
        }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.utf8.count < capacity else {
            close(descriptor)
            throw ClientError(.connectFailed, "socket path is \(path.utf8.count) bytes; Unix sockets allow at most \(capacity - 1): \(path)", path: path)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        if let connectTimeout {
            var value = Self.socketTime(seconds: connectTimeout)
            setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
        }
        let status = withUnsafePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        if status != 0 {
            let error = errno
            close(descriptor)
            var file = stat()
            if error == ECONNREFUSED || error == ENOTSOCK, stat(path, &file) == 0, (file.st_mode & S_IFMT) != S_IFSOCK {
                throw ClientError(
                    .connectFailed, "\(path) is not a socket but \(Self.kind(of: file.st_mode)); point --socket or PYBGD_SOCKET at pybgd's socket", path: path)
            }
            switch error {
            case EAGAIN, EINPROGRESS:
                throw ClientError(.timedOut, "nothing accepted the connection on \(path) in time", path: path)
            case ENOENT, ECONNREFUSED, ENOTDIR:
                throw ClientError(.notRunning, "pybgd is not running: nothing listens on \(path)", path: path)
            case EACCES, EPERM:
                throw ClientError(.permissionDenied, "permission denied on \(path): this user may not connect to the daemon", path: path)
            default:
                throw ClientError(.connectFailed, "cannot connect to \(path): \(String(cString: strerror(error)))", path: path)
            }
        }
        self.descriptor = descriptor
    }

    deinit { close(descriptor) }

    /// Makes a read that waits longer than `seconds` for the daemon fail with
    /// ``ClientError/Code/timedOut`` rather than block: for callers that must not hang on a daemon
    /// that stopped answering. nil: wait as long as it takes (the default).
    public func setReadTimeout(seconds: Double?) {
        var value = seconds.map(Self.socketTime(seconds:)) ?? timeval()
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &value, socklen_t(MemoryLayout<timeval>.size))
    }

    private static func socketTime(seconds: Double) -> timeval {
        let capped = min(max(seconds, 0), 1e9)
        var value = timeval()
        value.tv_sec = Int(capped)
        value.tv_usec = Int((capped - Double(Int(capped))) * 1e6)
        if value.tv_sec == 0 && value.tv_usec == 0 { value.tv_usec = 1 }
        return value
    }

    private static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFREG: "a regular file"
        case S_IFDIR: "a directory"
        case S_IFIFO: "a named pipe"
        default: "another kind of file"
        }
    }

    /// Sends one request and reads its reply.
    public func send(_ request: Request) throws(ClientError) -> Response {
        try write(line: request.line)
        return try readResponse()
    }

    /// Writes `line` and a line feed.
    public func write(line: String) throws(ClientError) {
        var bytes = Array(line.utf8)
        bytes.append(UInt8(ascii: "\n"))
        try write(bytes: bytes)
    }

    /// Writes raw bytes, as they are.
    public func write(bytes: [UInt8]) throws(ClientError) {
        var offset = 0
        while offset < bytes.count {
            let count = bytes.withUnsafeBytes { raw in
                Glibc.send(descriptor, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if count < 0 {
                if errno == EINTR { continue }
                throw ClientError(.disconnected, "the daemon closed the connection: \(String(cString: strerror(errno)))", path: path)
            }
            offset += count
        }
    }

    /// Reads the next reply line and parses it.
    public func readResponse() throws(ClientError) -> Response {
        guard let line = try readLine() else {
            throw ClientError(.disconnected, "the daemon closed the connection without replying", path: path)
        }
        do {
            return try Response(parsing: line)
        } catch {
            throw ClientError(.badReply, "unreadable reply from the daemon: \(error.message)", path: path)
        }
    }

    /// The next line without its line feed, or nil at end of stream.
    public func readLine() throws(ClientError) -> String? {
        while true {
            if let newline = buffer[max(scanned, consumed)...].firstIndex(of: UInt8(ascii: "\n")) {
                let line = String(decoding: buffer[consumed..<newline], as: UTF8.self)
                consumed = newline + 1
                scanned = consumed
                return line
            }
            scanned = buffer.count
            if consumed > 0 {
                buffer.removeFirst(consumed)
                scanned -= consumed
                consumed = 0
            }
            var chunk = [UInt8](repeating: 0, count: 64 * 1024)
            let count = chunk.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress!, $0.count, 0) }
            if count < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK {
                    throw ClientError(.timedOut, "no reply from the daemon within the read timeout", path: path)
                }
                throw ClientError(.disconnected, "reading from the daemon failed: \(String(cString: strerror(errno)))", path: path)
            }
            if count == 0 {
                guard !buffer.isEmpty else { return nil }
                defer {
                    buffer = []
                    scanned = 0
                }
                return String(decoding: buffer, as: UTF8.self)
            }
            buffer.append(contentsOf: chunk[..<count])
        }
    }

    /// Ends what this side sends (the daemon sees the end of input); replies can still be read.
    public func shutdownWrite() {
        shutdown(descriptor, Int32(SHUT_WR))
    }

    /// Shuts the connection in both directions: a read or write blocked on another thread returns.
    public func shutdownBoth() {
        shutdown(descriptor, Int32(SHUT_RDWR))
    }
}
