import NIOCore
import PyBackground
import PyBackgroundState
import Synchronization

/// The submissions one commit made durable (or refused), gathered on the committing thread and
/// delivered together once the commit's completions have run: the tasks are handed to the
/// `running` handler in one call (the scheduler takes its locks once for them), then the replies
/// go to each event loop in one hop, not one per submission.
final class AcceptedBatch: Sendable {
    private struct Entry {
        let submission: Submission
        let promise: EventLoopPromise<TaskID>
        let failure: StateStoreError?
    }

    private struct State {
        var entries: [Entry] = []
        var running: (@Sendable ([Submission]) -> Void)?
    }

    private let state = Mutex(State())

    /// Where durable submissions go from now on.
    func begin(running: @escaping @Sendable ([Submission]) -> Void) {
        state.withLock { $0.running = running }
    }

    /// A submission's commit completed; delivered at the next ``deliver()``.
    func add(_ submission: Submission, promise: EventLoopPromise<TaskID>, result: Result<Void, StateStoreError>) {
        let failure: StateStoreError? = if case .failure(let error) = result { error } else { nil }
        state.withLock { $0.entries.append(Entry(submission: submission, promise: promise, failure: failure)) }
    }

    /// Starts what was accepted, then answers every submission of the batch: started before
    /// acknowledged, so a client's next request finds its task in the tables.
    func deliver() {
        let (entries, running) = state.withLock { state in
            defer { state.entries = [] }
            return (state.entries, state.running)
        }
        guard !entries.isEmpty else { return }
        let accepted = entries.compactMap { $0.failure == nil ? $0.submission : nil }
        if !accepted.isEmpty { running?(accepted) }
        var start = entries.startIndex
        while start < entries.endIndex {
            // One hop per event loop: a run of replies bound for the same loop.
            let loop = entries[start].promise.futureResult.eventLoop
            var end = start + 1
            while end < entries.endIndex && entries[end].promise.futureResult.eventLoop === loop { end += 1 }
            let run = Array(entries[start..<end])
            loop.execute {
                for entry in run {
                    if let failure = entry.failure {
                        entry.promise.fail(failure)
                    } else {
                        entry.promise.succeed(entry.submission.record.id)
                    }
                }
            }
            start = end
        }
    }
}
