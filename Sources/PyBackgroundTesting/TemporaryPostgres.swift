import Foundation

/// A throwaway PostgreSQL cluster for one test: Debian's `initdb` and `pg_ctl` (as user
/// `postgres` when the tests run as root, which PostgreSQL refuses to run as) in a temporary
/// directory, listening on a Unix socket in that directory only, fsync on. `scripts/test` installs
/// Debian's `postgresql` when it is missing; without it this throws, naming what to install: the
/// tests of the shared store never pass against a mock.
public final class TemporaryPostgres: Sendable {
    /// The directory holding the data directory, the socket and the server's log.
    public let directory: URL
    /// The role tests connect as (the cluster's superuser, trusted over the socket).
    public let user: String
    public let port = 5432
    private let binaries: URL
    private let runAs: String?

    /// The data directory.
    public var dataDirectory: URL { directory.appendingPathComponent("data") }
    /// The directory of the server's Unix socket.
    public var socketDirectory: String { directory.path }

    /// A `state.url` for a database of this cluster.
    public func url(database: String = "postgres") -> String {
        "postgres://\(user)@/\(database)?host=\(socketDirectory)"
    }

    /// Makes and starts a cluster; the caller stops it with ``stop()``.
    public static func start() throws -> TemporaryPostgres {
        let postgres = try TemporaryPostgres()
        do {
            try postgres.initialize()
            try postgres.startServer()
        } catch {
            postgres.stop()
            throw error
        }
        return postgres
    }

    /// Runs `body` with a fresh cluster and stops it after, whatever `body` does. One such test
    /// (or other ``HeavyTest``) runs at a time in the process: clusters started together load the
    /// machine enough to starve other tests.
    public static func with<Value>(_ body: (TemporaryPostgres) async throws -> Value) async throws -> Value {
        try await HeavyTest.alone {
            let postgres = try start()
            defer { postgres.stop() }
            return try await body(postgres)
        }
    }

    private init() throws {
        guard let binaries = Self.findBinaries() else {
            throw HarnessError(
                "PostgreSQL's initdb and pg_ctl were not found (on PATH or in /usr/lib/postgresql/*/bin): install Debian's postgresql (scripts/test does)"
            )
        }
        self.binaries = binaries
        let isRoot = getuid() == 0
        runAs = isRoot ? "postgres" : nil
        user = isRoot ? "postgres" : (ProcessInfo.processInfo.environment["USER"] ?? NSUserName())
        // Short: the socket path (directory + "/.s.PGSQL.5432") must fit sun_path's 107 bytes.
        directory = URL(fileURLWithPath: "/tmp/pybgd-pg-\(UUID().uuidString.prefix(8).lowercased())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        if isRoot {
            try run("/bin/chown", ["postgres:postgres", directory.path], asUser: nil)
        }
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: directory.path)
    }

    private func initialize() throws {
        try run(
            binaries.appendingPathComponent("initdb").path,
            ["-D", dataDirectory.path, "-A", "trust", "-U", user, "-E", "UTF8", "--locale=C.UTF-8", "--no-instructions"])
    }

    /// Starts the server (again, after ``stopServer()``), waiting until it accepts connections.
    public func startServer() throws {
        try run(
            binaries.appendingPathComponent("pg_ctl").path,
            [
                "-D", dataDirectory.path, "-l", directory.appendingPathComponent("server.log").path, "-w", "-t", "60",
                "-o", "-k \(socketDirectory) -p \(port) -c listen_addresses='' -c max_connections=200 -c fsync=on",
                "start",
            ])
    }

    /// Stops the server (fast: open connections are cut), keeping its data.
    public func stopServer() throws {
        try run(binaries.appendingPathComponent("pg_ctl").path, ["-D", dataDirectory.path, "-m", "fast", "-w", "-t", "60", "stop"])
    }

    /// Creates a database, as the tests' superuser.
    public func createDatabase(_ name: String) throws {
        try run(binaries.appendingPathComponent("createdb").path, ["-h", socketDirectory, "-p", "\(port)", "-U", user, name])
    }

    /// Stops the server if it runs and removes the directory.
    public func stop() {
        if FileManager.default.fileExists(atPath: dataDirectory.appendingPathComponent("postmaster.pid").path) {
            try? run(binaries.appendingPathComponent("pg_ctl").path, ["-D", dataDirectory.path, "-m", "immediate", "-w", "stop"])
        }
        try? FileManager.default.removeItem(at: directory)
    }

    /// The end of the server's log, for a failure's message.
    public var serverLog: String {
        (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)).map { String($0.suffix(4000)) } ?? ""
    }

    private func run(_ executable: String, _ arguments: [String]) throws {
        try run(executable, arguments, asUser: runAs)
    }

    /// Runs a command to its end, its output to a file. posix_spawn and waitpid rather than
    /// Foundation's Process: its waitUntilExit never returned for `runuser … pg_ctl start` (the
    /// child was left a zombie, unreaped), and its pipes would be held open by the server.
    private func run(_ executable: String, _ arguments: [String], asUser: String?) throws {
        let command = asUser.map { ["/usr/sbin/runuser", "-u", $0, "--", executable] } ?? [executable]
        let outputPath = directory.appendingPathComponent("command.out").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Nothing of the test process reaches the server pg_ctl starts: other tests' sockets and
        // pipes held open by it would keep their peers from seeing the end.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? [] {
            if let descriptor = Int32(name), descriptor > 2 { posix_spawn_file_actions_addclose(&actions, descriptor) }
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = (command + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        let started = posix_spawn(&child, command[0], &actions, nil, argv, environ)
        guard started == 0 else { throw HarnessError("cannot start \(command[0]): \(String(cString: strerror(started)))") }
        var status: Int32 = 0
        while waitpid(child, &status, 0) < 0 && errno == EINTR {}
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? ""
        let exited = (status & 0x7F) == 0
        let code = (status >> 8) & 0xFF
        guard exited && code == 0 else {
            throw HarnessError(
                "\((executable as NSString).lastPathComponent) \(arguments.joined(separator: " ")) ended with status \(status): \(text.suffix(2000))\n\(serverLog)"
            )
        }
    }

    private static func findBinaries() -> URL? {
        let fileManager = FileManager.default
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let path = "\(directory)/pg_ctl"
            if fileManager.isExecutableFile(atPath: path) {
                // Debian links only some tools onto PATH: use the directory they really are in.
                let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().deletingLastPathComponent()
                if fileManager.isExecutableFile(atPath: resolved.appendingPathComponent("initdb").path) { return resolved }
            }
        }
        let versions = (try? fileManager.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            let bin = URL(fileURLWithPath: "/usr/lib/postgresql/\(version)/bin")
            if fileManager.isExecutableFile(atPath: bin.appendingPathComponent("pg_ctl").path) { return bin }
        }
        return nil
    }
}
