import PyBackgroundPostgres
import Yams

/// `state.store: postgresql` and its keys: the database, this host's name and the lease.
extension ConfigurationLoader {
    static func readSharedStore(
        _ keys: [String: Node], node: Node, into state: inout DaemonConfiguration.State, reader: NodeReader
    ) throws {
        let sharedKeys = ["url", "password_file", "host_name", "lease_seconds", "crash_limit", "prefetch", "poll_seconds"]
        guard state.store == .postgresql else {
            if let key = sharedKeys.first(where: { keys[$0] != nil }), let keyNode = keys[key] {
                throw reader.error(keyNode, key: "state.\(key)", "is for state.store: postgresql; the store is \(state.store.rawValue)")
            }
            return
        }
        guard let urlNode = keys["url"], let url = try reader.optionalString(urlNode, key: "state.url") else {
            throw reader.error(
                node, key: "state.url", "state.store: postgresql needs state.url, a postgres:// URL (postgres://USER@HOST:5432/DATABASE)",
                code: .missingKey)
        }
        let passwordFile = try keys["password_file"].flatMap { try reader.optionalString($0, key: "state.password_file") }
        do {
            _ = try PostgresSettings.parse(url: url, passwordFile: passwordFile)
        } catch {
            throw reader.error(urlNode, key: "state.url", error.description)
        }
        state.url = url
        state.passwordFile = passwordFile
        if let node = keys["host_name"], let name = try reader.optionalString(node, key: "state.host_name") {
            guard !name.isEmpty, name.count <= 255, name.allSatisfy({ !$0.isWhitespace && !$0.isNewline }) else {
                throw reader.error(node, key: "state.host_name", "must be 1 to 255 characters without spaces, got \"\(name)\"")
            }
            state.hostName = name
        }
        if let node = keys["lease_seconds"] {
            state.leaseSeconds = try reader.double(node, key: "state.lease_seconds", minimum: 1)
        }
        if let node = keys["crash_limit"] {
            state.crashLimit = try reader.int(node, key: "state.crash_limit", range: 1...1000)
        }
        if let node = keys["prefetch"] {
            state.prefetch = try reader.int(node, key: "state.prefetch", range: 0...10_000)
        }
        if let node = keys["poll_seconds"] {
            state.pollSeconds = try reader.double(node, key: "state.poll_seconds", minimum: 0.05)
        }
    }
}
