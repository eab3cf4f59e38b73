/// Told of every task's start and end, on the thread where it happens: a host that reports
/// events or counts outcomes. Must return quickly; it runs on workers and on cancelling threads.
///
/// Set once, when the scheduler is made; a scheduler without one pays a nil check per change.
package protocol TaskObserver: Sendable {
    /// An attempt begins on a worker (the future is `running`).
    func taskStarted(_ future: Future)
    /// The future reached its final state: finished, failed or cancelled (before it ran too).
    func taskEnded(_ future: Future)
}
