import Foundation

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
#if canImport(Glibc)
import Glibc
#endif

/// Plain HTTP for the listener's tests: a free loopback port, and a GET with its status and body.
public enum HTTPProbe {
    /// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's pick, released).
    public static func freePort() throws -> Int {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard socket >= 0 else { throw HarnessError("socket: \(errno)") }
        defer { close(socket) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
        }
        guard bound else { throw HarnessError("bind: \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// GETs `url`; returns the status and the body as text.
    public static func get(_ url: String, headers: [String: String] = [:], timeout: Double = 30) throws -> (status: Int, body: String) {
        var request = URLRequest(url: URL(string: url)!, timeoutInterval: timeout)
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let done = DispatchSemaphore(value: 0)
        let outcome = Log<Result<(Int, String), any Error>>()
        URLSession.shared.dataTask(with: request) { data, response, error in
            if let error {
                outcome.append(.failure(error))
            } else {
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                outcome.append(.success((status, String(decoding: data ?? Data(), as: UTF8.self))))
            }
            done.signal()
        }.resume()
        done.wait()
        let (status, body) = try outcome.all[0].get()
        return (status, body)
    }
}
