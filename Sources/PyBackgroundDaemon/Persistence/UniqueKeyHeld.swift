import PyBackground

/// Why a submission with `unique=` made no task on a store several hosts share: a live task,
/// maybe submitted on another host, holds the key. The submission's reply is that task's id and
/// state, with `"existing":true` (as on one host).
struct UniqueKeyHeld: Error, Sendable {
    let holder: TaskID
    /// As a client sees it: scheduled, pending, running or retrying.
    let state: String
}
