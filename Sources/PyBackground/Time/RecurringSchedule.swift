import Synchronization

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// A recurring schedule of a ``Scheduler``: made by ``Scheduler/every(_:startingAt:name:misfire:overlap:_:)``
/// or ``Scheduler/cron(_:timeZone:name:misfire:overlap:_:)``. Each firing starts an ordinary task (its own id,
/// in the tables) on the scheduler's workers; the schedule itself holds no thread, only an entry
/// in the scheduler's one timer.
///
/// ```swift
/// let report = try scheduler.every(.seconds(300), name: "report") { try sendReport() }
/// report.pause()          // no firings until resumed; those missed meanwhile are not made up
/// report.resume()
/// report.cancel()         // for good; tasks already started run on
/// ```
public final class RecurringSchedule: Sendable, CustomStringConvertible {
    /// What the schedule's tasks are called in the task table.
    public let name: String
    /// When it fires.
    public let trigger: ScheduleTrigger
    /// What it does with firings it missed.
    public let misfire: MisfirePolicy
    /// What it does when due while its previous task still runs.
    public let overlap: OverlapPolicy

    /// A firing is on time if it is found due within this much of its planned time; older ones
    /// count as missed and follow ``misfire``.
    public static let misfireGrace: Duration = .seconds(1)

    private struct State {
        var paused = false
        var cancelled = false
        var nextPlanned: Date?
        var timerToken: Int?
        var lastTask: TaskID?
        var lastFuture: Future?
        /// A firing waiting for the running one to end (overlap `.queue`).
        var queuedFiring = false
        var runs = 0
        var skipped = 0
    }

    /// What a firing does: start the body as a task here, or hand the firing to a host that
    /// records it (the daemon writes each firing's task with its tick in one transaction).
    enum Action: Sendable {
        case body(@Sendable () throws -> any Sendable)
        /// The host is woken `lead` before each tick, so that it can make the tick's task durable
        /// and have it wait, scheduled, for the tick itself.
        case host(lead: Duration, @Sendable (RecurringSchedule, ScheduleFiring) -> Void)
    }

    private let state = Mutex(State())
    /// Strong: a schedule runs until cancelled or its scheduler shuts down, kept or not.
    private let scheduler: Scheduler
    private let action: Action

    init(scheduler: Scheduler, name: String, trigger: ScheduleTrigger, misfire: MisfirePolicy, overlap: OverlapPolicy, action: Action) {
        self.scheduler = scheduler
        self.name = name
        self.trigger = trigger
        self.misfire = misfire
        self.overlap = overlap
        self.action = action
    }

    public var description: String { "\(name): \(trigger)" }

    /// When it fires next; nil while paused, once cancelled, or if it never fires again.
    public var nextFire: Date? { state.withLock { $0.paused || $0.cancelled ? nil : $0.nextPlanned } }

    /// The id of the last task it started.
    public var lastTaskID: TaskID? { state.withLock { $0.lastTask } }

    /// Tasks it started, and firings it let pass (missed under ``misfire``, or skipped under ``overlap``).
    public var counts: (runs: Int, skipped: Int) { state.withLock { ($0.runs, $0.skipped) } }

    public var isPaused: Bool { state.withLock { $0.paused } }

    /// Stops firing until ``resume()``.
    public func pause() {
        let token = state.withLock { state -> Int? in
            state.paused = true
            defer { state.timerToken = nil }
            return state.timerToken
        }
        if let token { scheduler.timer.cancel(token) }
    }

    /// Fires again from the next planned time after now; firings missed while paused are not made up.
    public func resume() {
        let now = scheduler.clock.now
        let resumed = state.withLock { state -> Bool in
            guard state.paused, !state.cancelled else { return false }
            state.paused = false
            return true
        }
        if resumed { arm(after: now) }
    }

    /// Stops for good. Tasks it started run on.
    public func cancel() {
        let token = state.withLock { state -> Int? in
            state.cancelled = true
            defer { state.timerToken = nil }
            return state.timerToken
        }
        if let token { scheduler.timer.cancel(token) }
    }

    /// How long before a tick the schedule wakes: only a host that writes ticks ahead asks for it.
    private var lead: Double {
        if case .host(let lead, _) = action { lead.secondsAsDouble } else { 0 }
    }

    /// Sets the timer for the first planned time after `date`.
    package func arm(after date: Date) {
        guard let next = trigger.nextFire(after: date) else {
            state.withLock { $0.nextPlanned = nil }
            return
        }
        state.withLock { state in
            guard !state.paused, !state.cancelled else { return }
            // One timer entry per schedule, whichever of a firing and a resume sets it last.
            if let old = state.timerToken { scheduler.timer.cancel(old) }
            state.nextPlanned = next
            state.timerToken = scheduler.timer.schedule(at: next.addingTimeInterval(-lead)) { self.fire() }
        }
    }

    /// On the timer thread, at or after the planned time: counts what is due, starts the runs
    /// the policies allow, and sets the timer for the next one.
    private func fire() {
        let now = scheduler.clock.now
        let found = state.withLock { state -> (planned: Date, stopped: Bool)? in
            state.timerToken = nil  // it has run
            return state.nextPlanned.map { ($0, state.paused || state.cancelled) }
        }
        guard let (planned, stopped) = found, !stopped else { return }
        let firing = ScheduleFiring.plan(trigger: trigger, firstDue: planned, now: now, lookahead: lead, misfire: misfire)
        switch action {
        case .body:
            state.withLock { $0.skipped += firing.passed }
            for _ in firing.ticks { startFiring() }
        case .host(_, let handler):
            handler(self, firing)
        }
        arm(after: max(now, firing.consumedThrough))
    }

    /// Starts one firing's task, as the overlap policy allows.
    private func startFiring() {
        enum Decision { case start, skip, queue }
        let decision = state.withLock { state -> Decision in
            guard let previous = state.lastFuture, !previous.isDone else { return .start }
            switch overlap {
            case .allow: return .start
            case .skip:
                state.skipped += 1
                return .skip
            case .queue:
                if state.queuedFiring {
                    state.skipped += 1  // coalesced into the one already waiting
                    return .skip
                }
                state.queuedFiring = true
                return .queue
            }
        }
        switch decision {
        case .skip:
            return
        case .start:
            startTask()
        case .queue:
            let previous = state.withLock { $0.lastFuture }
            previous?.addDoneCallback { [weak self] _ in
                guard let self else { return }
                self.state.withLock { $0.queuedFiring = false }
                if !self.state.withLock({ $0.cancelled }) { self.startTask() }
            }
        }
    }

    private func startTask() {
        guard case .body(let body) = action else { return }
        let record = TaskRecord(id: scheduler.newTaskID(), name: name, args: [], kwargs: [], submittedAt: scheduler.clock.now, schedule: name)
        guard let future = try? scheduler.start(record, { _ in try body() }) else { return }  // shut down: nothing more
        state.withLock { state in
            state.lastTask = record.id
            state.lastFuture = future
            state.runs += 1
        }
    }
}
