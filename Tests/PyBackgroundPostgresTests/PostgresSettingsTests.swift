import Testing

@testable import PyBackgroundPostgres

@Suite("state.url and the database password")
struct PostgresSettingsTests {
    @Test(
        "URLs are read as libpq reads them",
        arguments: [
            (
                "postgres://pybgd@db.internal:6432/jobs?sslmode=verify-full&sslrootcert=/etc/ca.pem",
                PostgresSettings(
                    endpoint: .tcp(host: "db.internal", port: 6432), user: "pybgd", database: "jobs", tls: .verifyFull,
                    rootCertificateFile: "/etc/ca.pem", password: .environment("PYBGD_DATABASE_PASSWORD"))
            ),
            (
                "postgresql://pybgd@10.0.0.5/jobs",
                PostgresSettings(
                    endpoint: .tcp(host: "10.0.0.5", port: 5432), user: "pybgd", database: "jobs", tls: .prefer,
                    password: .environment("PYBGD_DATABASE_PASSWORD"))
            ),
            (
                "postgres://pybgd@[::1]:5433/",
                PostgresSettings(
                    endpoint: .tcp(host: "::1", port: 5433), user: "pybgd", database: "pybgd", tls: .prefer,
                    password: .environment("PYBGD_DATABASE_PASSWORD"))
            ),
            (
                "postgres://postgres@/jobs?host=/var/run/postgresql",
                PostgresSettings(
                    endpoint: .unixSocket(path: "/var/run/postgresql/.s.PGSQL.5432"), user: "postgres", database: "jobs", tls: .disable,
                    password: .environment("PYBGD_DATABASE_PASSWORD"))
            ),
            (
                "postgres://me%40corp@/?host=/tmp/pg&port=5999&dbname=work&connect_timeout=3",
                PostgresSettings(
                    endpoint: .unixSocket(path: "/tmp/pg/.s.PGSQL.5999"), user: "me@corp", database: "work", tls: .disable,
                    connectTimeout: .seconds(3), password: .environment("PYBGD_DATABASE_PASSWORD"))
            ),
        ])
    func parses(url: String, expected: PostgresSettings) throws {
        #expect(try PostgresSettings.parse(url: url) == expected)
    }

    @Test(
        "a URL pybgd cannot use is refused, naming what is wrong and what is accepted",
        arguments: [
            ("mysql://pybgd@db/jobs", "must start with postgres://"),
            ("postgres://pybgd:secret@db/jobs", "must not hold the password"),
            ("postgres://pybgd@db/jobs?password=secret", "must not hold the password"),
            ("postgres://pybgd@db:99999/jobs", "a port is 1 to 65535"),
            ("postgres://pybgd@db/jobs?sslmode=allow", "accepted are disable, prefer, require, verify-ca, verify-full"),
            ("postgres://pybgd@db/jobs?sslrootcert=/ca.pem", "would not be checked"),
            ("postgres://pybgd@/jobs?host=/run/pg&sslmode=require", "TLS is for TCP only"),
            ("postgres://pybgd@/jobs", "names no host"),
            ("postgres://db/jobs", "names no user"),
            ("postgres://pybgd@db/jobs?pool=3", "unknown parameter \"pool\""),
            ("postgres://pybgd@db/jobs?host=relative", "absolute path"),
            ("postgres://pybgd@db/jobs?connect_timeout=0", "at least 1"),
        ])
    func refuses(url: String, message: String) {
        #expect {
            try PostgresSettings.parse(url: url)
        } throws: { error in
            let text = (error as? PostgresSettingsError)?.description ?? ""
            return text.contains(message) && !text.contains("secret")
        }
    }

    @Test("the URL pybgd shows names where it connects and never a password")
    func description() throws {
        let tcp = try PostgresSettings.parse(url: "postgres://pybgd@db:6432/jobs?sslmode=require")
        #expect(tcp.description == "postgres://pybgd@db:6432/jobs?sslmode=require")
        let socket = try PostgresSettings.parse(url: "postgres://pybgd@/jobs?host=/run/pg")
        #expect(socket.description == "postgres://pybgd@/jobs?host=/run/pg/.s.PGSQL.5432&sslmode=disable")
        #expect(PostgresSettings.redacted("postgres://u:hunter2@h/d") == "postgres://u:…@h/d")
    }

    @Test("the password comes from its file's first line, or the environment; an empty file is refused")
    func password() throws {
        let directory = try TemporaryFiles()
        defer { directory.remove() }
        let file = try directory.write("password", "s3cret\nignored\n")
        let settings = try PostgresSettings.parse(url: "postgres://pybgd@db/jobs", passwordFile: file)
        #expect(try settings.readPassword(environment: [:]) == "s3cret")
        let fromEnvironment = try PostgresSettings.parse(url: "postgres://pybgd@db/jobs")
        #expect(try fromEnvironment.readPassword(environment: ["PYBGD_DATABASE_PASSWORD": "e"]) == "e")
        #expect(try fromEnvironment.readPassword(environment: [:]) == nil)
        let empty = try PostgresSettings.parse(url: "postgres://pybgd@db/jobs", passwordFile: try directory.write("empty", ""))
        #expect(throws: PostgresSettingsError.self) { try empty.readPassword(environment: [:]) }
        let missing = try PostgresSettings.parse(url: "postgres://pybgd@db/jobs", passwordFile: "/nonexistent/password")
        #expect(throws: PostgresSettingsError.self) { try missing.readPassword(environment: [:]) }
    }
}
