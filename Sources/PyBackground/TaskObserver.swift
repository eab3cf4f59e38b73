/// Told of every task's start and end, on the thread where it happens: a host that reports
/// events or counts outcomes. Must return quickly; it runs on workers and on cancelling threads.
///
/// Set once, when the scheduler is made; a scheduler without one pays a nil check per change.
/// A class: an optional reference to one is copied with a retain, where an optional of any
/// value existential took an outlined copy and destroy through the run time, twice a task even
/// when nil (callgrind, issue 20).
package protocol TaskObserver: AnyObject, Sendable {
    /// An attempt begins on a worker (the future is `running`).
    func taskStarted(_ future: Future)
    /// The future reached its final state: finished, failed or cancelled (before it ran too).
    func taskEnded(_ future: Future)
}
