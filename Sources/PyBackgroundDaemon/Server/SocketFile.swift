import PyBackgroundClient
import PyBackgroundState

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The control socket's file: making its directory, telling a live daemon from a stale file,
/// and the permissions it is created with.
enum SocketFile {
    /// The longest path a Unix socket may have, in bytes (`sun_path` less its terminating NUL).
    static let maximumPathBytes = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// Readies `path` for binding: creates a missing parent directory (mode 0700), refuses a path
    /// where another daemon answers or that is not a socket, and removes a stale socket file left
    /// by a daemon that died.
    static func prepare(path: String) throws(DaemonError) {
        let maximum = maximumPathBytes
        guard path.utf8.count <= maximum else {
            throw DaemonError(.socketUnavailable, "socket path is \(path.utf8.count) bytes; Unix sockets allow at most \(maximum): \(path)")
        }
        let parent = parentDirectory(of: path)
        var status = stat()
        if stat(parent, &status) != 0 {
            guard errno == ENOENT, mkdir(parent, 0o700) == 0 || errno == EEXIST else {
                throw DaemonError(.socketUnavailable, "cannot create the socket's directory \(parent): \(lastError())")
            }
        }
        guard lstat(path, &status) == 0 else {
            guard errno == ENOENT else { throw DaemonError(.socketUnavailable, "cannot use \(path): \(lastError())") }
            return
        }
        guard (status.st_mode & S_IFMT) == S_IFSOCK else {
            throw DaemonError(.socketUnavailable, "\(path) exists and is not a socket; remove it or choose another --socket")
        }
        if isAnswering(path) {
            throw DaemonError(.alreadyRunning, "another pybgd is already running on \(path) (stop it first, or choose another --socket)")
        }
        guard unlink(path) == 0 || errno == ENOENT else {
            throw DaemonError(.socketUnavailable, "cannot remove the stale socket file \(path): \(lastError())")
        }
    }

    /// Sets the socket file's mode, and its group when one is given.
    static func applyPermissions(path: String, mode: UInt16, group: String?) throws(DaemonError) {
        if let group {
            guard let gid = SystemAccounts.groupID(group) else {
                throw DaemonError(.socketUnavailable, "socket.group \"\(group)\" is not a group on this system")
            }
            guard chown(path, uid_t.max, gid) == 0 else {
                throw DaemonError(.socketUnavailable, "cannot give group \(group) the socket \(path): \(lastError())")
            }
        }
        guard chmod(path, mode_t(mode)) == 0 else {
            throw DaemonError(.socketUnavailable, "cannot set mode \(String(mode, radix: 8)) on \(path): \(lastError())")
        }
    }

    /// Runs `body` with a umask that makes new files no more open than `mode`, so the socket is never
    /// reachable with looser permissions between bind and chmod (``ProcessUmask``: the umask is
    /// the whole process's).
    static func withRestrictiveUmask<T>(for mode: UInt16, _ body: () async throws -> T) async rethrows -> T {
        try await ProcessUmask.narrowed(to: mode_t(mode), body)
    }

    static func remove(path: String) {
        unlink(path)
    }

    /// True when something accepts a connection on `path`: what a client would find there.
    static func isAnswering(_ path: String) -> Bool {
        (try? ControlConnection(path: path)) != nil
    }

    static func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let parent = String(path[..<slash])
        return parent.isEmpty ? "/" : parent
    }

    private static func lastError() -> String { String(cString: strerror(errno)) }
}
