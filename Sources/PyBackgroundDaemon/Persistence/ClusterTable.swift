import PyBackgroundProtocol

/// A page of the tasks of a store several hosts share, as TASKS, FUTURES, LATEST and the
/// dashboard report them (``TaskPersistence/clusterPage(offset:limit:states:)``).
struct ClusterTable: Sendable {
    /// Newest first, each with the host that claimed it last.
    var futures: [FuturePayload]
    /// How many tasks of the states asked for the store holds.
    var total: Int
}
