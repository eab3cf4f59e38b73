import NIOSSL
import PostgresNIO

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

extension PostgresSettings {
    /// postgres-nio's configuration for one connection, the password read now from its source
    /// (so that a rotated password file is taken at the next connection).
    public func connectionConfiguration(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(PostgresStoreError) -> PostgresConnection.Configuration {
        let password: String?
        do {
            password = try readPassword(environment: environment)
        } catch {
            throw PostgresStoreError(.settings, error.description)
        }
        var configuration: PostgresConnection.Configuration
        switch endpoint {
        case .unixSocket(let path):
            configuration = .init(unixSocketPath: path, username: user, password: password, database: database)
        case .tcp(let host, let port):
            configuration = .init(host: host, port: port, username: user, password: password, database: database, tls: try tlsMode())
        }
        configuration.options.connectTimeout = .nanoseconds(
            connectTimeout.components.seconds * 1_000_000_000 + connectTimeout.components.attoseconds / 1_000_000_000)
        configuration.options.additionalStartupParameters = [("application_name", "pybgd")]
        return configuration
    }

    private func tlsMode() throws(PostgresStoreError) -> PostgresConnection.Configuration.TLS {
        guard tls != .disable else { return .disable }
        var configuration = TLSConfiguration.makeClientConfiguration()
        switch tls {
        case .disable, .prefer, .require:
            // libpq's prefer and require encrypt without checking who answers.
            configuration.certificateVerification = .none
        case .verifyCA:
            configuration.certificateVerification = .noHostnameVerification
        case .verifyFull:
            configuration.certificateVerification = .fullVerification
        }
        if let rootCertificateFile {
            configuration.trustRoots = .file(rootCertificateFile)
        }
        do {
            let context = try NIOSSLContext(configuration: configuration)
            return tls == .prefer ? .prefer(context) : .require(context)
        } catch {
            throw PostgresStoreError(.settings, "cannot set up TLS for the database (sslrootcert \(rootCertificateFile ?? "-")): \(error)")
        }
    }
}
