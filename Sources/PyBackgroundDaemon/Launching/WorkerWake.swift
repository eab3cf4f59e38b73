/// When the worker pool is woken for a task started in memory.
///
/// Waking a sleeping worker is a system call that the event loop pays. Pipelined submissions
/// arrive in reads of hundreds of lines: the first of a read wakes a worker at once, the others
/// are queued with no wake-up of their own, and the connection wakes the pool once when the
/// read is handled (``TaskLauncher/wakeWorkers()``). Halves the event loop's CPU time per
/// pipelined in-memory submission (BENCHMARKS.md).
enum WorkerWake: Sendable {
    /// Wake an idle worker now, if none is being woken.
    case now
    /// Leave it to the caller's ``TaskLauncher/wakeWorkers()`` after the read it is handling.
    case afterRead
}
