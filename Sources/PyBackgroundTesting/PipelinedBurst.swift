import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A burst of one request line, pipelined a window at a time on one connection, with the replies
/// counted as bytes rather than parsed: how tests fill the tables with 100,000 tasks quickly.
public enum PipelinedBurst {
    /// Sends `line` `count` times; returns how many replies were not `OK`.
    @discardableResult
    public static func send(_ line: String, count: Int, to socketPath: String, window: Int = 1000) throws -> Int {
        let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { throw HarnessError("socket: \(errno)") }
        defer { close(descriptor) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            for (index, byte) in socketPath.utf8.enumerated() where index < raw.count - 1 { raw[index] = byte }
        }
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard connected == 0 else { throw HarnessError("cannot connect to \(socketPath): \(errno)") }
        var refused = 0
        var sent = 0
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while sent < count {
            let batch = min(window, count - sent)
            let bytes = Array(String(repeating: line + "\n", count: batch).utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
                guard written > 0 else { throw HarnessError("the daemon closed the connection") }
                offset += written
            }
            var replies = 0
            var atLineStart = true
            while replies < batch {
                let received = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress!, $0.count, 0) }
                guard received > 0 else { throw HarnessError("the daemon closed the connection after \(sent + replies) replies") }
                for byte in buffer[..<received] {
                    if atLineStart && byte == UInt8(ascii: "E") { refused += 1 }
                    atLineStart = byte == UInt8(ascii: "\n")
                    if atLineStart { replies += 1 }
                }
            }
            sent += batch
        }
        return refused
    }
}
