import Dispatch
import Logging
import NIOCore
import PyBackground
import PyBackgroundProtocol
import PyBackgroundState
import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Takes checked submissions to the scheduler through the daemon's ``TaskPersistence``: a
/// submission is acknowledged once the store has it, a task that is not retry-safe has its start
/// recorded before its body runs, and every end is recorded after it. What the store is (memory,
/// SQLite) was decided once, at start; nothing here depends on it.
final class TaskLauncher: Sendable {
    let scheduler: Scheduler
    let persistence: any TaskPersistence
    /// Tasks' stdout and stderr.
    let outputs: TaskOutputs
    /// Where state changes go (the scheduler was made with it as its observer).
    let events: TaskEvents
    private let cancellation: TaskCancellation
    private let logger: Logger
    private let ends = EndRecording()
    /// Made once: handed to the store with every task.
    private let shouldRecordEnd: @Sendable (Future.Snapshot) -> Bool
    /// Unique keys of submissions accepted but not yet durable, with the holder's id once durable:
    /// a repeat of the key meanwhile waits for the holder's acceptance.
    private let uniqueInFlight = Mutex<[String: EventLoopFuture<TaskID>]>([:])

    init(
        scheduler: Scheduler, persistence: any TaskPersistence, outputs: TaskOutputs, events: TaskEvents,
        cancellation: TaskCancellation, logger: Logger
    ) {
        self.scheduler = scheduler
        self.persistence = persistence
        self.outputs = outputs
        self.events = events
        self.cancellation = cancellation
        self.logger = logger
        self.shouldRecordEnd = { [ends] in ends.shouldRecord($0) }
        scheduler.onRetrying { [persistence, events] future in
            persistence.recordRetrying(future)
            events.retrying(future)
        }
        scheduler.onReleased { [persistence] future in persistence.recordReleased(future.id) }
        // A queue paused or resumed on another host sharing the store: this host's tasks of it
        // (claimed already) wait or go on as there.
        persistence.observePausedQueues { [scheduler] paused in
            for queue in scheduler.queues where queue.paused != paused.contains(queue.name) {
                if queue.paused { try? scheduler.resumeQueue(queue.name) } else { try? scheduler.pauseQueue(queue.name) }
            }
        }
        persistence.begin { [self] batch in run(batch) }
    }

    /// Tasks waiting to run, counting those the store has not yet made durable.
    /// On a shared store: the cluster's, as the store last counted them plus what this host
    /// accepted since (``TaskPersistence/clusterWaiting``).
    var pendingCount: Int { scheduler.pendingCount + persistence.acceptsInFlight + (persistence.clusterWaiting?.pending ?? 0) }

    /// Tasks waiting for their time (`in=`, `at=`): this host's, or on a shared store the cluster's.
    var scheduledCount: Int { persistence.clusterWaiting?.scheduled ?? scheduler.scheduledCount }

    // MARK: - Submissions

    /// What became of a submission.
    enum Outcome {
        /// Accepted and queued: the id to reply with now.
        case accepted(TaskID)
        /// Not accepted.
        case refused(LaunchError)
        /// Accepted once the store has it: the future gets the id then (on the event loop given),
        /// or fails with the store's error, and then nothing was accepted.
        case pending(EventLoopFuture<TaskID>)
        /// Its unique key is held by a live task: that task's id (and state), no new task.
        case existing(TaskID, state: FutureState)
        /// Its unique key is held by a submission the store has not made durable yet: its id once
        /// it is (or the store's failure).
        case existingPending(EventLoopFuture<TaskID>)
    }

    /// Accepts a checked submission, to start at `runAt` (nil: at once) with `options` (over the
    /// task's policy; `after` resolved to ids); replies that wait for the store come on
    /// `eventLoop`. A task started at once wakes a worker as `wake` says.
    func submit(
        _ task: RegisteredTask, _ arguments: BoundArguments, words: [String], runAt: Date? = nil,
        options: SubmitOptions = SubmitOptions(), after: [TaskID] = [], replyOn eventLoop: any EventLoop,
        wake: WorkerWake = .now
    ) -> Outcome {
        let taskOptions = options.isEmpty && task.policy.isDefault ? TaskOptions() : task.policy.options(for: options, after: after)
        let record = TaskRecord(
            id: scheduler.newTaskID(), name: task.name, args: arguments.positional,
            kwargs: arguments.keywordArguments, submittedAt: Date(), runAt: runAt, options: taskOptions)
        var optionWords: [String] = []
        if !options.isEmpty {
            var stored = options
            stored.after = after.map(\.description)  // whole ids: a prefix may match more tasks later
            optionWords = stored.flowWords
        }
        var submission = Submission(record: record, task: task, arguments: arguments, words: words, optionWords: optionWords)
        // A shared store resolves and enforces prerequisites itself: they may run on any host.
        if persistence.sharedByHosts { submission.after = options.after }
        guard let key = options.unique else { return accept(submission, replyOn: eventLoop, wake: wake) }
        // One lock around look-up and acceptance: of racing submissions of one key, exactly one
        // is accepted and the others get its id.
        return uniqueInFlight.withLock { inFlight in
            if let holder = inFlight[key] { return .existingPending(holder.hop(to: eventLoop)) }
            if let holder = scheduler.task(uniqueKey: key), let future = scheduler.futures[holder] {
                return .existing(holder, state: future.state)
            }
            let outcome = accept(submission, replyOn: eventLoop, wake: wake)
            if case .pending(let id) = outcome {
                inFlight[key] = id
                // Once durable the scheduler holds the key (run(_:) starts it first); once failed, no one does.
                id.whenComplete { [weak self] _ in self?.uniqueInFlight.withLock { _ = $0.removeValue(forKey: key) } }
            }
            return outcome
        }
    }

    private func accept(_ submission: Submission, replyOn eventLoop: any EventLoop, wake: WorkerWake) -> Outcome {
        switch persistence.accept(submission, replyOn: eventLoop) {
        case .pending(let id):
            return .pending(id)
        case .durable:
            do {
                events.accepted(submission.record)
                let future = try scheduler.start(submission.record, wakingWorker: wake == .now, body(of: submission))
                persistence.recordEnd(of: future, if: shouldRecordEnd)
                return .accepted(submission.record.id)
            } catch let error where error.code == .shutDown {
                return .refused(.shuttingDown)
            } catch {
                return .refused(LaunchError(error))
            }
        }
    }

    /// Starts a task an earlier life accepted that had failed attempts, as `retrying` at its next
    /// run time: recovery's way for a row that was retrying, or running when pybgd died and is
    /// retried for that. The store is told it is retrying.
    func resume(_ submission: Submission, history: AttemptHistory) {
        do {
            let future = try scheduler.start(submission.record, wakingWorker: true, history: history, body(of: submission))
            persistence.recordEnd(of: future, if: shouldRecordEnd)
            persistence.recordRetrying(future)
        } catch {
            logger.info("not resumed during shutdown; it runs at the next start", metadata: ["id": "\(submission.record.id)"])
        }
    }

    /// Wakes sleeping workers for tasks started with ``WorkerWake/afterRead``.
    func wakeWorkers() {
        scheduler.wakeWorkers()
    }

    /// Starts tasks the store made durable, together. One the scheduler no longer takes (the
    /// shutdown began) stays in the store as accepted, and runs at the next start.
    func run(_ batch: [Submission]) {
        // Durable already: they are accepted whether or not they start in this life.
        for submission in batch { events.accepted(submission.record) }
        let results = scheduler.start(contentsOf: batch.map { ($0.record, body(of: $0)) })
        for (submission, result) in zip(batch, results) {
            switch result {
            case .success(let future):
                persistence.recordEnd(of: future, if: shouldRecordEnd)
            case .failure(let error) where error.code == .shutDown:
                logger.info("accepted during shutdown; it runs at the next start", metadata: ["id": "\(submission.record.id)"])
            case .failure(let error):
                // Checked before it was accepted (queue, prerequisites): only a reload or a removal
                // in between gets here. It is durable, so it ends, recorded, with the reason.
                logger.warning("an accepted task could not start", metadata: ["id": "\(submission.record.id)", "error": "\(error)"])
                let now = Date()
                _ = try? scheduler.restore(submission.record, state: .cancelled, startedAt: nil, endedAt: now, outcome: .failure(error))
                persistence.recordEnd(submission.record.id, state: .cancelled, startedAt: nil, endedAt: now, error: error)
            }
        }
    }

    /// The body a worker runs: with a store, a task that is not retry-safe is on disk as running
    /// before any side effect, so a crash from there on leaves it running and the next start marks
    /// it interrupted instead of running it twice.
    ///
    /// A task that may run more than once (it has a retry policy) records every start, with its
    /// attempt number, so that an attempt a crash interrupted still counts.
    func body(of submission: Submission) -> @Sendable (TaskID) throws -> any Sendable {
        let scheduler = self.scheduler
        let cancellation = self.cancellation
        let logger = self.logger
        let outputs = self.outputs
        let task = submission.task
        let arguments = submission.arguments
        let retries = submission.record.hasOptions && submission.record.options.retry != nil
        guard persistence.recordsStarts && (!task.retryIfInterrupted || retries) else {
            return { id in
                try task.run(TaskContext(id: id, logger: logger, scheduler: scheduler, cancellation: cancellation, outputs: outputs), arguments)
            }
        }
        let persistence = self.persistence
        return { id in
            let future = Future.current
            let startedAt = future?.startedAt ?? Date()
            try Self.recordStart(
                id, at: startedAt, attempt: future?.attempt ?? 1, name: task.name, persistence: persistence,
                cancellation: cancellation, logger: logger)
            return try task.run(TaskContext(id: id, logger: logger, scheduler: scheduler, cancellation: cancellation, outputs: outputs), arguments)
        }
    }

    /// Records that a task starts, waiting (on its worker) while the store cannot write: the task
    /// has not run, so it is neither failed nor run unrecorded; it runs once its start is on disk.
    /// Only the shutdown's cancellation ends the wait, and then its row stays pending for the next
    /// start.
    private static func recordStart(
        _ id: TaskID, at startedAt: Date, attempt: Int, name: String, persistence: any TaskPersistence,
        cancellation: TaskCancellation, logger: Logger
    ) throws(TaskFailure) {
        var delay = 0.1
        var firstFailure: ContinuousClock.Instant?
        while true {
            do {
                try persistence.recordStart(id, at: startedAt, attempt: attempt)
                if let firstFailure {
                    logger.notice(
                        "the state store recorded a start it had refused; the task runs now",
                        metadata: [
                            "id": "\(id)", "task": "\(name)", "waited": "\(ContinuousClock.now - firstFailure)",
                        ])
                }
                return
            } catch  where error.code == .superseded {
                throw TaskFailure(.superseded, "not run here: \(error.message)")
            } catch {
                if firstFailure == nil {
                    firstFailure = .now
                    logger.warning(
                        "cannot record that a task starts; it waits, not run, until the state store can write again",
                        metadata: [
                            "id": "\(id)", "task": "\(name)", "error": "\(error)",
                        ])
                }
            }
            guard cancellation.sleep(seconds: delay) else {
                throw TaskFailure(
                    .cancelledAtShutdown, "not run: the state store could not record its start before the shutdown timeout ran out; it runs at the next start")
            }
            delay = min(delay * 2, 5)
        }
    }

    // MARK: - Shutdown

    /// The shutdown timeout ran out: what the shutdown cancels from now on stays pending (or
    /// running) in the store, for the next start.
    func beginCancellingForShutdown() {
        ends.cancellingForShutdown.store(true, ordering: .releasing)
    }

    /// Writes what is recorded and closes the store. Returns the tasks whose end could not be
    /// written, even after retrying for `patience` (a disk still full): their rows still say they
    /// run (a retry-safe task's: pending), so the next start reports them interrupted (or runs a
    /// retry-safe one again).
    func close(retrying patience: Duration = .seconds(10)) -> [TaskID] {
        persistence.close(retrying: patience)
    }

    // MARK: - Retention

    /// Removes ended tasks that ended before `cutoff` (nil: all) from the store, then the same ones
    /// from the tables; `reply` gets how many left the tables. If the store cannot write, nothing
    /// is removed from either, so the tables never show less than a restart would bring back.
    /// A task whose end is not yet on disk stays in both.
    func clean(endedBefore cutoff: Date?, reply: @escaping @Sendable (Result<Int, LaunchError>) -> Void) {
        removeEnded(before: cutoff ?? Date()) { result in
            reply(
                result.mapError { error in
                    LaunchError(
                        .storeFailed,
                        "nothing was removed: the state store could not write (\(error.message)); free space on its file system and try again")
                })
        }
    }

    /// Removes chosen ended tasks from the store and, once that is durable, from the tables;
    /// `reply` gets the ids removed (a task whose end is not yet on disk stays in both).
    func remove(_ ids: [TaskID], reply: @escaping @Sendable (Result<[TaskID], LaunchError>) -> Void) {
        let scheduler = self.scheduler
        let outputs = self.outputs
        persistence.removeTasks(ids) { result in
            switch result {
            case .success(let kept):
                let removed = scheduler.removeEnded(Set(ids).subtracting(kept))
                outputs.remove(removed)
                reply(.success(removed))
            case .failure(let error):
                reply(
                    .failure(
                        LaunchError(
                            .storeFailed,
                            "nothing was removed: the state store could not write (\(error.message)); free space on its file system and try again")))
            }
        }
    }

    /// Applies the configured retention: the age limit to the store and then the tables, the
    /// count limit to the store (the scheduler applies it to the tables as tasks end).
    func applyRetention(keepFinished: Int?, maxAgeSeconds: Double?) {
        if let maxAgeSeconds {
            let logger = self.logger
            removeEnded(before: Date(timeIntervalSinceNow: -maxAgeSeconds)) { result in
                if case .success(let removed) = result, removed > 0 {
                    logger.debug("retention dropped tasks by age", metadata: ["removed": "\(removed)"])
                }
            }
        }
        if let keepFinished, ends.sinceRetention.exchange(0, ordering: .relaxed) > 0 {
            persistence.keepEnded(keepFinished)
        }
        if keepFinished != nil {
            // The scheduler dropped the oldest from the tables as tasks ended: their output goes too.
            let futures = scheduler.futures
            outputs.removeAll { futures[$0] != nil }
        }
    }

    /// Removes the tasks that ended before `cutoff` from the store and, once that is durable, the
    /// same ones from the tables, then gives the freed heap back; `completion` gets how many left
    /// the tables, or the store's failure, and then nothing was removed from either. One cutoff for
    /// both, so that a task ending meanwhile stays in both or neither; a task whose end is not yet
    /// on disk stays in both. On the thread the store completes on, never the event loop (a trim
    /// of a large heap takes milliseconds); with SQLite, the writer's, in the commit's completion:
    /// handed to another thread, the same burst left 8 MiB more of the heap behind after three
    /// rounds (measured, old and new alternated).
    private func removeEnded(before cutoff: Date, completion: @escaping @Sendable (Result<Int, StateStoreError>) -> Void) {
        let scheduler = self.scheduler
        let outputs = self.outputs
        persistence.removeEnded(before: cutoff) { result in
            switch result {
            case .success(let kept):
                let removed = scheduler.removeEnded(endedBefore: cutoff, keeping: kept)
                outputs.remove(removed)
                if !removed.isEmpty { HeapTrim.now() }
                completion(.success(removed.count))
            case .failure(let error):
                completion(.failure(error))
            }
        }
    }
}

extension BoundArguments {
    /// The keyword arguments as the scheduler's task table records them.
    var keywordArguments: [KeywordArgument] {
        keywords.map { KeywordArgument(name: $0.name, value: $0.value) }
    }
}
