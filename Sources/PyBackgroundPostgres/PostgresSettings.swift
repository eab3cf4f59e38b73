#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Where the shared store lives and how to reach it: `state.url` of the daemon's configuration,
/// a `postgres://` URL as libpq reads it, and where the password comes from.
///
/// The URL never carries the password: a configuration file is read by more people and tools
/// than a secret should be, and pybgd logs and reports the URL. The password comes from a file
/// (`state.password_file`) or an environment variable (`PYBGD_DATABASE_PASSWORD` by default), or
/// there is none (peer or trust authentication over a Unix socket).
///
///     postgres://pybgd@db.internal:5432/jobs?sslmode=verify-full&sslrootcert=/etc/pybgd/ca.pem
///     postgres://pybgd@/jobs?host=/var/run/postgresql        (Unix socket directory)
public struct PostgresSettings: Sendable, Equatable, CustomStringConvertible {
    /// TCP to a host and port, or the Unix socket a server listens on in a directory.
    public enum Endpoint: Sendable, Equatable {
        case tcp(host: String, port: Int)
        /// The socket file itself (`DIRECTORY/.s.PGSQL.PORT`).
        case unixSocket(path: String)
    }

    /// libpq's `sslmode`, without `allow` (which tries plain text first).
    public enum TLSMode: String, Sendable, Equatable, CaseIterable {
        /// Plain text.
        case disable
        /// TLS if the server offers it, else plain text.
        case prefer
        /// TLS, without checking the server's certificate.
        case require
        /// TLS, the certificate signed by a trusted authority (`sslrootcert`, else the system's).
        case verifyCA = "verify-ca"
        /// As `verify-ca`, and the certificate names the host.
        case verifyFull = "verify-full"
    }

    /// Where the password comes from.
    public enum PasswordSource: Sendable, Equatable {
        case none
        /// The file's first line (its trailing line feed dropped).
        case file(String)
        /// The variable's value.
        case environment(String)
    }

    /// The environment variable read when no `password_file` is given.
    public static let passwordVariable = "PYBGD_DATABASE_PASSWORD"

    public var endpoint: Endpoint
    public var user: String
    public var database: String
    public var tls: TLSMode
    /// A PEM file of the authorities trusted for `verify-ca` and `verify-full`.
    public var rootCertificateFile: String?
    public var connectTimeout: Duration
    public var password: PasswordSource

    public init(
        endpoint: Endpoint, user: String, database: String, tls: TLSMode = .prefer, rootCertificateFile: String? = nil,
        connectTimeout: Duration = .seconds(10), password: PasswordSource = .none
    ) {
        self.endpoint = endpoint
        self.user = user
        self.database = database
        self.tls = tls
        self.rootCertificateFile = rootCertificateFile
        self.connectTimeout = connectTimeout
        self.password = password
    }

    /// Reads a `postgres://` (or `postgresql://`) URL: user, host (or `?host=/socket/directory`),
    /// port (5432), database (the user's name when absent), `sslmode` (`prefer`; `disable` over a
    /// Unix socket), `sslrootcert`, `connect_timeout` (seconds). `passwordFile` names where the
    /// password is; without it, the `PYBGD_DATABASE_PASSWORD` variable is read if set.
    public static func parse(url text: String, passwordFile: String? = nil) throws(PostgresSettingsError) -> PostgresSettings {
        guard let schemeEnd = text.range(of: "://"), ["postgres", "postgresql"].contains(String(text[..<schemeEnd.lowerBound]))
        else {
            throw PostgresSettingsError("state.url must start with postgres:// or postgresql://, got \(Self.redacted(text))")
        }
        var rest = Substring(text[schemeEnd.upperBound...])
        var query: [(String, String)] = []
        if let mark = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: mark)...].split(separator: "&") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, let key = decode(parts[0]), let value = decode(parts[1]) else {
                    throw PostgresSettingsError("state.url has a malformed parameter \"\(pair)\": parameters are NAME=VALUE")
                }
                query.append((key, value))
            }
            rest = rest[..<mark]
        }
        var databasePart = ""
        if let slash = rest.firstIndex(of: "/") {
            databasePart = String(rest[rest.index(after: slash)...])
            rest = rest[..<slash]
        }
        var user = ""
        if let at = rest.lastIndex(of: "@") {
            let userInfo = rest[..<at]
            if userInfo.contains(":") {
                throw PostgresSettingsError(
                    "state.url must not hold the password (it is logged and shown): put it in a file named by state.password_file, or in \(passwordVariable)"
                )
            }
            guard let decoded = decode(userInfo) else { throw PostgresSettingsError("state.url has a malformed user name") }
            user = decoded
            rest = rest[rest.index(after: at)...]
        }
        var host = String(rest)
        var port = 5432
        if let colon = rest.lastIndex(of: ":"), !rest.hasPrefix("[") || rest[..<colon].hasSuffix("]") {
            port = try Self.port(rest[rest.index(after: colon)...])
            host = String(rest[..<colon])
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard var database = decode(Substring(databasePart)) else { throw PostgresSettingsError("state.url has a malformed database name") }

        var socketDirectory: String?
        var tls: TLSMode?
        var rootCertificate: String?
        var timeout = Duration.seconds(10)
        for (key, value) in query {
            switch key {
            case "host":
                guard value.hasPrefix("/") else {
                    throw PostgresSettingsError("state.url's host= parameter is a Unix socket directory (an absolute path), got \"\(value)\"")
                }
                socketDirectory = value
            case "port":
                port = try Self.port(Substring(value))
            case "user":
                user = value
            case "dbname":
                database = value
            case "sslmode":
                guard let mode = TLSMode(rawValue: value) else {
                    throw PostgresSettingsError(
                        "state.url has sslmode=\(value): accepted are \(TLSMode.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                tls = mode
            case "sslrootcert":
                rootCertificate = value
            case "connect_timeout":
                guard let seconds = Int(value), seconds > 0 else {
                    throw PostgresSettingsError("state.url has connect_timeout=\(value): a whole number of seconds, at least 1")
                }
                timeout = .seconds(seconds)
            case "password":
                throw PostgresSettingsError(
                    "state.url must not hold the password (it is logged and shown): put it in a file named by state.password_file, or in \(passwordVariable)"
                )
            case "application_name":
                continue
            default:
                throw PostgresSettingsError(
                    "state.url has an unknown parameter \"\(key)\": accepted are host, port, user, dbname, sslmode, sslrootcert, connect_timeout, application_name"
                )
            }
        }
        let endpoint: Endpoint
        if let socketDirectory {
            endpoint = .unixSocket(path: "\(socketDirectory)/.s.PGSQL.\(port)")
        } else if host.hasPrefix("/") {
            endpoint = .unixSocket(path: "\(host)/.s.PGSQL.\(port)")
        } else if host.isEmpty {
            throw PostgresSettingsError("state.url names no host: give one (postgres://user@HOST/db) or a socket directory (?host=/var/run/postgresql)")
        } else {
            endpoint = .tcp(host: host, port: port)
        }
        guard !user.isEmpty else { throw PostgresSettingsError("state.url names no user: postgres://USER@host/database") }
        if case .unixSocket = endpoint, let tls, tls != .disable {
            throw PostgresSettingsError("state.url has sslmode=\(tls.rawValue) with a Unix socket: TLS is for TCP only")
        }
        if rootCertificate != nil, ![.verifyCA, .verifyFull].contains(tls) {
            throw PostgresSettingsError("state.url has sslrootcert without sslmode=verify-ca or verify-full: the certificate would not be checked")
        }
        let isSocket = if case .unixSocket = endpoint { true } else { false }
        return PostgresSettings(
            endpoint: endpoint, user: user, database: database.isEmpty ? user : database, tls: tls ?? (isSocket ? .disable : .prefer),
            rootCertificateFile: rootCertificate, connectTimeout: timeout,
            password: passwordFile.map(PasswordSource.file) ?? .environment(passwordVariable))
    }

    /// The URL as pybgd shows and logs it: what it connects to, never a secret.
    public var description: String {
        var parameters: [String] = []
        let location: String
        switch endpoint {
        case .tcp(let host, let port):
            location = "\(host.contains(":") ? "[\(host)]" : host):\(port)"
        case .unixSocket(let path):
            location = ""
            parameters.append("host=\(path)")
        }
        parameters.append("sslmode=\(tls.rawValue)")
        if let rootCertificateFile { parameters.append("sslrootcert=\(rootCertificateFile)") }
        return "postgres://\(user)@\(location)/\(database)?\(parameters.joined(separator: "&"))"
    }

    /// The password from its source, nil when there is none. Read at each connection, so that a
    /// rotated password file is taken without a restart.
    public func readPassword(environment: [String: String]) throws(PostgresSettingsError) -> String? {
        switch password {
        case .none:
            return nil
        case .environment(let name):
            return environment[name]
        case .file(let path):
            guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
                throw PostgresSettingsError("cannot read the database password from state.password_file \(path)")
            }
            let line = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            guard !line.isEmpty else { throw PostgresSettingsError("state.password_file \(path) is empty") }
            return line
        }
    }

    private static func port(_ text: Substring) throws(PostgresSettingsError) -> Int {
        guard let number = Int(text), (1...65535).contains(number) else {
            throw PostgresSettingsError("state.url has port \"\(text)\": a port is 1 to 65535")
        }
        return number
    }

    private static func decode(_ text: Substring) -> String? {
        String(text).removingPercentEncoding
    }

    /// A URL with whatever follows `user:` up to `@` hidden, for error messages.
    static func redacted(_ text: String) -> String {
        guard let scheme = text.range(of: "://"), let at = text[scheme.upperBound...].lastIndex(of: "@") else { return text }
        let userInfo = text[scheme.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return text }
        return String(text[..<colon]) + ":…" + String(text[at...])
    }
}
