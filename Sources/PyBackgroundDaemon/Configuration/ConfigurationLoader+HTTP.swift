import Yams

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// `http:`: the listener of the metrics and the dashboard.
extension ConfigurationLoader {
    static func readHTTP(_ node: Node, reader: NodeReader) throws -> DaemonConfiguration.HTTP {
        let keys = try reader.mapping(node, key: "http", allowed: ["listen", "allow_remote", "token", "token_file"])
        var http = DaemonConfiguration.HTTP()
        if let node = keys["listen"], let text = try reader.optionalString(node, key: "http.listen") {
            guard let listen = DaemonConfiguration.HTTP.Listen(parsing: text) else {
                throw reader.error(
                    node, key: "http.listen", "must be HOST:PORT (127.0.0.1:9464, [::1]:9464) or the absolute path of a Unix socket, got \"\(text)\"")
            }
            http.listen = listen
        }
        if let node = keys["allow_remote"] { http.allowRemote = try reader.bool(node, key: "http.allow_remote") }
        if let node = keys["token"], let token = try reader.optionalString(node, key: "http.token") {
            http.token = try checkedToken(token, node: node, key: "http.token", reader: reader)
        }
        if let node = keys["token_file"], let path = try reader.optionalString(node, key: "http.token_file") {
            guard http.token == nil else { throw reader.error(node, key: "http.token_file", "give http.token or http.token_file, not both") }
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw reader.error(node, key: "http.token_file", "cannot read \(path)")
            }
            http.token = try checkedToken(text.trimmingCharacters(in: .whitespacesAndNewlines), node: node, key: "http.token_file", reader: reader)
        }
        if let listen = http.listen, !listen.isLocal {
            guard http.allowRemote else {
                throw reader.error(
                    node, key: "http.listen",
                    "\(listen) is not a loopback address: binding it needs http.allow_remote: true and a token (http.token or http.token_file)")
            }
            guard http.token != nil else {
                throw reader.error(node, key: "http.token", "http.allow_remote needs a bearer token (http.token or http.token_file) for \(listen)")
            }
        }
        return http
    }

    /// A token of at least 16 printable characters without spaces: what a header carries whole.
    private static func checkedToken(_ token: String, node: Node, key: String, reader: NodeReader) throws -> String {
        guard token.count >= 16, token.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
            throw reader.error(node, key: key, "must be at least 16 printable ASCII characters without spaces (e.g. openssl rand -hex 24)")
        }
        return token
    }
}
