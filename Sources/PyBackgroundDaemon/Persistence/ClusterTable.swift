import PyBackgroundProtocol

/// The most recent tasks of a store several hosts share, as TASKS, FUTURES and LATEST report
/// them (``TaskPersistence/clusterTable(limit:completion:)``).
struct ClusterTable: Sendable {
    /// Oldest first, each with the host that claimed it last.
    var futures: [FuturePayload]
    /// How many tasks the store holds.
    var total: Int
}
