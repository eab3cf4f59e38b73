#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Sockets a test binds itself: the datagram socket that stands in for systemd's notification
/// socket, the listening socket systemd would pass to an activated service.
public enum UnixSocket {
    /// A new socket of `type` (`SOCK_STREAM`, `SOCK_DGRAM`) bound to `path`; the caller closes it.
    public static func bound(to path: String, type: Int32) throws(HarnessError) -> Int32 {
        guard path.utf8.count < MemoryLayout.size(ofValue: sockaddr_un().sun_path) else {
            throw HarnessError("socket path too long (\(path.utf8.count) bytes): \(path)")
        }
        let descriptor = socket(AF_UNIX, type, 0)
        guard descriptor >= 0 else { throw HarnessError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path.utf8)
            raw[path.utf8.count] = 0
        }
        let status = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard status == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw HarnessError("bind \(path): \(reason)")
        }
        return descriptor
    }

    /// A stream socket bound to `path` and listening, as systemd passes one to `pybgd.service`.
    public static func listening(at path: String, backlog: Int32 = 16) throws(HarnessError) -> Int32 {
        let descriptor = try bound(to: path, type: Int32(SOCK_STREAM.rawValue))
        guard listen(descriptor, backlog) == 0 else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw HarnessError("listen \(path): \(reason)")
        }
        return descriptor
    }
}
