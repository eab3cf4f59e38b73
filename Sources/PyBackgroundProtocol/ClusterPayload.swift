/// The hosts sharing one store and the tasks they share, as one host last read them (STATUS's
/// `cluster`): `{"hosts":[…],"tasks":{"pending":N,…},"as_of":T}`. `tasks` counts the tasks not
/// yet ended, by state.
public struct ClusterPayload: Codable, Hashable, Sendable {
    /// One host that has run on the store, the most recently heard first.
    public struct Host: Codable, Hashable, Sendable {
        public var name: String
        /// Seconds since its last heartbeat, by the database's clock.
        public var silentSeconds: Double
        public var workers: Int
        public var running: Int
        public var version: String

        public init(name: String, silentSeconds: Double, workers: Int, running: Int, version: String) {
            self.name = name
            self.silentSeconds = silentSeconds
            self.workers = workers
            self.running = running
            self.version = version
        }

        enum CodingKeys: String, CodingKey {
            case name, workers, running, version
            case silentSeconds = "silent_seconds"
        }
    }

    public var hosts: [Host]
    public var tasks: [String: Int]
    /// When it was read (seconds since the epoch).
    public var asOf: Double

    public init(hosts: [Host], tasks: [String: Int], asOf: Double) {
        self.hosts = hosts
        self.tasks = tasks
        self.asOf = asOf
    }

    enum CodingKeys: String, CodingKey {
        case hosts, tasks
        case asOf = "as_of"
    }
}
