import Foundation
import Logging
import PyBackground
import PyBackgroundProtocol
import PyBackgroundState
import Synchronization

/// The daemon's recurring schedules: those of the config (reconciled at start and on reload) and
/// those clients added, each armed on the scheduler's one timer. A firing's tasks and the
/// schedule's progress are written in one transaction before any of them starts
/// (``TaskPersistence/acceptFiring(schedule:_:through:completion:)``), so every tick gets exactly
/// one task whenever a crash comes; after downtime the ticks missed since the stored progress
/// follow the schedule's misfire policy. The overlap policy is applied here, where a firing whose
/// commit is still in flight counts as running.
final class ScheduleBook: Sendable {
    private struct Entry {
        var stored: StoredSchedule
        var spec: ScheduleSpec
        var checked: ScheduleValidation.Checked
        /// Bumped whenever the schedule is re-armed: firings of an older arming are dropped.
        var generation = 0
        var handle: RecurringSchedule?
        /// The latest tick consumed here (ahead of the store while a write is in flight).
        var consumedThrough: Date?
        var lastTask: TaskID?
        var lastError: String?
        /// A firing's tasks are being written: they count as running for the overlap policy.
        var inFlight = false
        var afterLanding: [@Sendable () -> Void] = []
        /// Overlap `queue`: the tick waiting for the previous task to end, and the progress it carries.
        var queued: (tick: Date, through: Date)?
        var runs = 0
        var skipped = 0
    }

    private let entries = Mutex<[String: Entry]>([:])
    /// Stored schedules that no longer check (their task is gone, or its parameters changed):
    /// listed with the reason, never fired, removable.
    private let unusable = Mutex<[String: (stored: StoredSchedule, reason: String)]>([:])
    private let validation: Mutex<ScheduleValidation>
    /// How far a store several hosts share has fired each schedule (every host's firings): a
    /// config schedule new to this host goes on from there, its misfire policy deciding what the
    /// whole cluster missed.
    private let sharedProgress = Mutex<[String: Date]>([:])
    /// The schedules added at run time that a shared store had at the last look, with whether
    /// each was paused: what changed since is another host's doing (``follow(_:)``).
    private let followed = Mutex<[String: Bool]>([:])
    private let launcher: TaskLauncher
    private let logger: Logger

    init(launcher: TaskLauncher, registry: TaskRegistry, logger: Logger) {
        self.launcher = launcher
        self.validation = Mutex(ScheduleValidation(registry: registry, zone: .current))
        self.logger = logger
    }

    private var scheduler: Scheduler { launcher.scheduler }
    private var persistence: any TaskPersistence { launcher.persistence }

    // MARK: - Start and reload

    /// Loads the stored schedules, reconciles them with the config's and arms them. A config
    /// schedule that does not check is an error: the daemon does not start on it.
    func start(configured: [ConfiguredSchedule]) throws(DaemonError) {
        let stored: [StoredSchedule]
        do {
            stored = try persistence.recoverSchedules()
            let progress = try persistence.scheduleProgress()
            sharedProgress.withLock { $0 = progress }
        } catch {
            throw DaemonError(.stateStore, error.description)
        }
        let validation = self.validation.withLock { $0 }
        let declared = Set(configured.map(\.name))
        // The last task each schedule made, as recovered: the overlap policy sees it still running.
        var lastTasks: [String: (tick: Date, id: TaskID)] = [:]
        for (id, future) in scheduler.futures {
            guard let name = future.record.schedule, let tick = future.record.tick else { continue }
            if lastTasks[name].map({ $0.tick < tick }) ?? true { lastTasks[name] = (tick, id) }
        }
        var loaded: [String: Entry] = [:]
        for schedule in stored {
            switch Self.entry(schedule, validation) {
            case .success(var entry):
                entry.lastTask = lastTasks[schedule.name]?.id
                loaded[schedule.name] = entry
            case .failure(let error) where schedule.origin == .config && !declared.contains(schedule.name):
                // The config no longer declares it: removed, as reconciliation removes a valid one.
                persistence.record(.remove(schedule.name)) { _ in }
                logger.info("schedule removed from the config", metadata: ["schedule": "\(schedule.name)", "reason": "\(error.message)"])
            case .failure(let error):
                // Kept in the store as it is: a later registry may make it valid again.
                logger.error("a stored schedule no longer checks; it does not fire", metadata: ["schedule": "\(schedule.name)", "reason": "\(error.message)"])
                unusable.withLock { $0[schedule.name] = (schedule, error.message) }
            }
        }
        entries.withLock { $0 = loaded }
        if case .failure(let error) = reconcile(configured) { throw DaemonError(.configuration, error.message) }
        persistence.observeSchedules { [weak self] schedules in self?.follow(schedules) }
    }

    /// Follows what other hosts did to the schedules added at run time of a store they share:
    /// added ones are armed here too (each tick still fires once: the store compares and swaps
    /// its progress), removed ones removed, paused or resumed ones likewise. Only a change since
    /// the last look is applied: one this host made and has not yet seen stored stays.
    func follow(_ schedules: [StoredSchedule]) {
        let validation = self.validation.withLock { $0 }
        let before = followed.withLock { followed in
            defer { followed = Dictionary(schedules.map { ($0.name, $0.paused) }, uniquingKeysWith: { first, _ in first }) }
            return followed
        }
        let current = entries.withLock { $0 }
        let stored = Set(schedules.map(\.name))
        for schedule in schedules where current[schedule.name] == nil && unusable.withLock({ $0[schedule.name] }) == nil {
            guard before[schedule.name] == nil else { continue }  // removed here, not yet from the store
            switch Self.entry(schedule, validation) {
            case .success(let entry):
                install(entry)
                arm(schedule.name)
                logger.info("schedule added on another host", metadata: ["schedule": "\(schedule.name)", "trigger": "\(entry.spec.triggerText)"])
            case .failure(let error):
                unusable.withLock { $0[schedule.name] = (schedule, error.message) }
                logger.warning(
                    "a schedule added on another host does not check here; it does not fire here",
                    metadata: ["schedule": "\(schedule.name)", "reason": "\(error.message)"])
            }
        }
        for (name, entry) in current where entry.stored.origin == .runtime && before[name] != nil && !stored.contains(name) {
            uninstall(name)
            logger.info("schedule removed on another host", metadata: ["schedule": "\(name)"])
        }
        unusable.withLock { unusable in
            for name in unusable.keys where before[name] != nil && !stored.contains(name) { unusable.removeValue(forKey: name) }
        }
        for schedule in schedules {
            guard let was = before[schedule.name], was != schedule.paused, current[schedule.name]?.stored.origin == .runtime else { continue }
            if applyPause(schedule.name, schedule.paused, resumedAt: schedule.lastTick ?? scheduler.clock.now) != nil {
                logger.info(
                    schedule.paused ? "schedule paused on another host" : "schedule resumed on another host", metadata: ["schedule": "\(schedule.name)"])
            }
        }
    }

    /// Makes the config's schedules the ones of origin `config`: new ones added, changed ones
    /// replaced (keeping their progress), those gone removed; runtime-added schedules are left
    /// alone, unless the config now declares one of the same name, which the config takes over.
    /// All checked before anything changes: a failure changes nothing.
    @discardableResult
    func reconcile(_ configured: [ConfiguredSchedule], registry: TaskRegistry? = nil) -> Result<Void, ProtocolError> {
        var validation = self.validation.withLock { $0 }
        if let registry { validation = ScheduleValidation(registry: registry, zone: validation.zone) }
        let now = scheduler.clock.now
        var changes: [(ScheduleChange, Entry?)] = []
        let current = entries.withLock { $0 }
        // Unchanged schedules are checked against the new registry too: a firing submits the task
        // as it is registered now, as a client's submission would.
        var rechecked: [String: ScheduleValidation.Checked] = [:]
        var broken: [String: String] = [:]
        let definitions = Dictionary(configured.map { ($0.name, RowJSON.words($0.spec.words)) }, uniquingKeysWith: { first, _ in first })
        if registry != nil {
            for (name, entry) in current where definitions[name] == nil || definitions[name] == entry.stored.definition {
                switch validation.check(entry.spec, createdAt: entry.stored.createdAt) {
                case .success(let checked): rechecked[name] = checked
                case .failure(let error) where entry.stored.origin == .config && definitions[name] != nil:
                    return .failure(ProtocolError(error.code, "schedules: \(name): \(error.message)"))
                case .failure(let error): broken[name] = error.message
                }
            }
        }
        for item in configured {
            let definition = definitions[item.name]!
            if let existing = current[item.name], existing.stored.definition == definition, existing.stored.origin == .config { continue }
            let createdAt = current[item.name]?.stored.createdAt ?? now
            var stored = StoredSchedule(name: item.name, definition: definition, origin: .config, createdAt: createdAt)
            stored.paused = current[item.name]?.stored.paused ?? false
            stored.lastTick = current[item.name]?.consumedThrough ?? sharedProgress.withLock { $0[item.name] }
            switch Self.entry(stored, validation) {
            case .failure(let error): return .failure(ProtocolError(error.code, "schedules: \(item.name): \(error.message)"))
            case .success(var entry):
                entry.consumedThrough = stored.lastTick
                if let existing = current[item.name], existing.stored.origin == .runtime {
                    logger.warning("the config now declares a schedule added at run time; the config's replaces it", metadata: ["schedule": "\(item.name)"])
                }
                changes.append((.save(stored, keepProgress: true), entry))
            }
        }
        let declared = Set(configured.map(\.name))
        // A config that declares a schedule again replaces the stored one that no longer checked.
        unusable.withLock { unusable in for name in declared { unusable.removeValue(forKey: name) } }
        for (name, entry) in current where entry.stored.origin == .config && !declared.contains(name) {
            changes.append((.remove(name), nil))
        }
        // Everything checked: from here on the reload takes effect.
        self.validation.withLock { $0 = validation }
        entries.withLock { entries in
            for (name, checked) in rechecked { entries[name]?.checked = checked }
        }
        for (name, reason) in broken where current[name]?.stored.origin == .runtime {
            logger.warning(
                "a schedule added at run time no longer checks after the reload; it does not fire", metadata: ["schedule": "\(name)", "reason": "\(reason)"])
            // Listed as unusable before it leaves the entries: a SHOW meanwhile (it looks at the
            // unusable first) finds it in one or the other, never in neither.
            if let entry = entries.withLock({ $0[name] }) {
                unusable.withLock { $0[name] = (entry.stored, reason) }
                _ = entries.withLock { $0.removeValue(forKey: name) }
                entry.handle?.cancel()
            }
        }
        for (change, entry) in changes {
            switch change {
            case .save(let stored, _):
                install(entry!)
                logger.info("schedule from the config", metadata: ["schedule": "\(stored.name)", "trigger": "\(entry!.spec.triggerText)"])
            case .remove(let name):
                uninstall(name)
                logger.info("schedule removed from the config", metadata: ["schedule": "\(name)"])
            case .pause: break
            }
            persistence.record(change) { [logger] result in
                if case .failure(let error) = result { logger.error("cannot store a schedule change", metadata: ["error": "\(error)"]) }
            }
        }
        // Those kept as they were are armed too (at start nothing is armed yet).
        let unarmed = entries.withLock { $0.values.filter { $0.handle == nil && !$0.stored.paused }.map(\.stored.name) }
        for name in unarmed { arm(name) }
        return .success(())
    }

    private static func entry(_ stored: StoredSchedule, _ validation: ScheduleValidation) -> Result<Entry, ProtocolError> {
        let words: [String]
        do {
            words = try ProtocolJSON.decode([String].self, from: stored.definition)
        } catch {
            return .failure(ProtocolError(.badRequest, "its stored definition is not a list of words"))
        }
        let spec: ScheduleSpec
        do {
            spec = try ScheduleSpec.parse(words)
        } catch {
            return .failure(error)
        }
        return validation.check(spec, createdAt: stored.createdAt).map { checked in
            Entry(stored: stored, spec: spec, checked: checked, consumedThrough: stored.lastTick)
        }
    }

    // MARK: - Verbs

    /// `SCHEDULE ADD`: refused if the name is taken; replies once the schedule is stored.
    func add(_ name: String, _ spec: ScheduleSpec, reply: @escaping @Sendable (Result<SchedulePayload, ProtocolError>) -> Void) {
        let now = scheduler.clock.now
        let stored = StoredSchedule(name: name, definition: RowJSON.words(spec.words), origin: .runtime, createdAt: now)
        let entry: Entry
        switch validation.withLock({ $0 }).check(spec, createdAt: now).map({ Entry(stored: stored, spec: spec, checked: $0) }) {
        case .failure(let error): return reply(.failure(error))
        case .success(let made): entry = made
        }
        let taken = entries.withLock { entries -> Bool in
            guard entries[name] == nil, unusable.withLock({ $0[name] }) == nil else { return true }
            entries[name] = entry
            return false
        }
        guard !taken else {
            return reply(.failure(ProtocolError(.badRequest, "a schedule named \"\(name)\" exists; remove it first, or choose another name")))
        }
        persistence.record(.save(stored, keepProgress: false)) { [self] result in
            switch result {
            case .success:
                arm(name)
                logger.info("schedule added", metadata: ["schedule": "\(name)", "trigger": "\(spec.triggerText)"])
                reply(payload(name).map(Result.success) ?? .failure(ProtocolError(.unknownID, "schedule \(name) was removed meanwhile")))
            case .failure(let error):
                _ = entries.withLock { $0.removeValue(forKey: name) }
                reply(.failure(ProtocolError(.storeFailed, "the schedule was not added: \(error)")))
            }
        }
    }

    /// `SCHEDULE PAUSE` / `RESUME`: a resumed schedule fires from the next tick to come.
    func setPaused(_ name: String, _ paused: Bool, reply: @escaping @Sendable (Result<SchedulePayload, ProtocolError>) -> Void) {
        let now = scheduler.clock.now
        guard let changed = applyPause(name, paused, resumedAt: now) else { return reply(.failure(unknown(name))) }
        guard changed else { return reply(payload(name).map(Result.success) ?? .failure(unknown(name))) }
        persistence.record(.pause(name, paused: paused, resumedAt: paused ? nil : now)) { [self] result in
            if case .failure(let error) = result {
                reply(.failure(ProtocolError(.storeFailed, "\(paused ? "paused" : "resumed") until the next start only: \(error)")))
            } else {
                reply(payload(name).map(Result.success) ?? .failure(unknown(name)))
            }
        }
    }

    /// Pauses or resumes a schedule here (a resumed one goes on from `resumedAt`); nil: no such
    /// schedule; false: it already was.
    private func applyPause(_ name: String, _ paused: Bool, resumedAt: Date) -> Bool? {
        let found = entries.withLock { entries -> (changed: Bool, handle: RecurringSchedule?)? in
            guard var entry = entries[name] else { return nil }
            guard entry.stored.paused != paused else { return (false, nil) }
            entry.stored.paused = paused
            let handle = entry.handle
            entry.handle = nil
            entry.generation += 1
            if !paused { entry.consumedThrough = resumedAt }
            entries[name] = entry
            return (true, handle)
        }
        guard let (changed, handle) = found else { return nil }
        handle?.cancel()
        if paused { cancelWaiting(name) }
        if changed && !paused { arm(name) }
        return changed
    }

    /// `SCHEDULE REMOVE`: only schedules added at run time; a config one is removed from the config.
    func remove(_ name: String, reply: @escaping @Sendable (Result<SchedulePayload, ProtocolError>) -> Void) {
        guard let before = payload(name) else { return reply(.failure(unknown(name))) }
        if unusable.withLock({ $0.removeValue(forKey: name) }) != nil {
            persistence.record(.remove(name)) { _ in reply(.success(before)) }
            return
        }
        guard before.origin == StoredSchedule.Origin.runtime.rawValue else {
            return reply(
                .failure(
                    ProtocolError(.badRequest, "schedule \"\(name)\" is declared in the config file; remove it there and reload (SIGHUP), or pause it")))
        }
        uninstall(name)
        persistence.record(.remove(name)) { [logger] result in
            if case .failure(let error) = result {
                reply(.failure(ProtocolError(.storeFailed, "removed until the next start only: \(error)")))
            } else {
                logger.info("schedule removed", metadata: ["schedule": "\(name)"])
                reply(.success(before))
            }
        }
    }

    /// Every schedule, by name.
    var all: [SchedulePayload] {
        (entries.withLock { Array($0.keys) } + unusable.withLock { Array($0.keys) }).sorted().compactMap(payload)
    }

    /// One schedule as the protocol shows it.
    func payload(_ name: String) -> SchedulePayload? {
        if let (stored, reason) = unusable.withLock({ $0[name] }) {
            let words = (try? ProtocolJSON.decode([String].self, from: stored.definition)) ?? []
            return SchedulePayload(
                name: name, trigger: "-", definition: words, task: "-", misfire: "-", overlap: "-", origin: stored.origin.rawValue,
                paused: stored.paused, nextRun: nil, lastTick: stored.lastTick?.timeIntervalSince1970, lastTask: nil, lastState: nil,
                runs: 0, skipped: 0, error: "does not fire: \(reason)")
        }
        guard let entry = entries.withLock({ $0[name] }) else { return nil }
        let last = entry.lastTask.flatMap { scheduler.futures[$0] }
        return SchedulePayload(
            name: name, trigger: entry.spec.triggerText, definition: entry.spec.words, task: entry.spec.task,
            misfire: entry.spec.misfire.description, overlap: entry.spec.overlap.description, origin: entry.stored.origin.rawValue,
            paused: entry.stored.paused, nextRun: entry.handle?.nextFire?.timeIntervalSince1970,
            lastTick: entry.consumedThrough?.timeIntervalSince1970, lastTask: entry.lastTask?.description,
            lastState: last?.state.rawValue ?? (entry.inFlight ? "pending" : nil), runs: entry.runs, skipped: entry.skipped,
            error: entry.lastError)
    }

    private func unknown(_ name: String) -> ProtocolError {
        let names = entries.withLock { $0.keys.sorted() }
        return ProtocolError(.unknownID, "no schedule named \"\(name)\"; schedules: \(names.isEmpty ? "none" : names.joined(separator: ", "))")
    }

    // MARK: - Arming and firing

    private func install(_ entry: Entry) {
        let old = entries.withLock { entries -> RecurringSchedule? in
            var entry = entry
            let previous = entries[entry.stored.name]
            entry.generation = (previous?.generation ?? 0) + 1
            entry.lastTask = previous?.lastTask
            entry.runs = previous?.runs ?? 0
            entry.skipped = previous?.skipped ?? 0
            entries[entry.stored.name] = entry
            return previous?.handle
        }
        old?.cancel()
    }

    private func uninstall(_ name: String) {
        entries.withLock { $0.removeValue(forKey: name) }?.handle?.cancel()
        cancelWaiting(name)
    }

    /// Cancels the tasks written ahead for ticks still to come (``lead``): a paused or removed
    /// schedule fires no more.
    private func cancelWaiting(_ name: String) {
        for (_, future) in scheduler.futures where future.record.schedule == name && future.state == .scheduled {
            future.cancel()
        }
    }

    /// How long before its tick a firing of an `overlap=allow` schedule is written: its task then
    /// waits, scheduled, for the tick, and the commit is not part of its lateness. Other overlap
    /// policies decide at the tick whether the previous task still runs, so they write then.
    static let lead = Duration.milliseconds(500)

    /// Sets the schedule's timer from its progress: ticks since then are due at once.
    private func arm(_ name: String) {
        guard
            let (entry, baseline) = entries.withLock({ entries -> (Entry, Date)? in
                guard let entry = entries[name], !entry.stored.paused, entry.handle == nil else { return nil }
                return (entry, entry.consumedThrough ?? entry.stored.createdAt)
            })
        else { return }
        let generation = entry.generation
        let checked = entry.checked
        let handle: RecurringSchedule
        do {
            handle = try scheduler.schedule(
                checked.trigger, name: name, misfire: checked.misfire, overlap: checked.overlap, after: baseline,
                lead: checked.overlap == .allow ? Self.lead : .zero
            ) { [weak self] _, firing in
                self?.fired(name, generation, firing)
            }
        } catch {
            return  // shutting down
        }
        let stale = entries.withLock { entries -> Bool in
            guard entries[name]?.generation == generation else { return true }
            entries[name]?.handle = handle
            return false
        }
        if stale { handle.cancel() }
    }

    /// On the timer thread: applies the overlap policy, then writes the firing.
    private func fired(_ name: String, _ generation: Int, _ firing: ScheduleFiring) {
        enum Next {
            case write([Date], through: Date)
            case waitForPrevious
            case nothing
        }
        let next = entries.withLock { entries -> Next in
            guard var entry = entries[name], entry.generation == generation, !entry.stored.paused else { return .nothing }
            defer { entries[name] = entry }
            var ticks = firing.ticks
            entry.skipped += firing.passed
            entry.consumedThrough = firing.consumedThrough
            if let queued = entry.queued {
                // One firing waits already: this one coalesces into it, and so does its progress.
                entry.queued = (queued.tick, firing.consumedThrough)
                entry.skipped += ticks.count
                return .nothing
            }
            let previousRunning = entry.inFlight || (entry.lastTask.flatMap { scheduler.futures[$0] }.map { !$0.isDone } ?? false)
            if previousRunning && !ticks.isEmpty {
                switch entry.spec.overlap {
                case .allow: break
                case .skip:
                    entry.skipped += ticks.count
                    ticks = []
                case .queue:
                    entry.skipped += ticks.count - 1
                    entry.queued = (ticks.last!, firing.consumedThrough)
                    return .waitForPrevious
                }
            }
            return .write(ticks, through: firing.consumedThrough)
        }
        switch next {
        case .nothing: return
        case .write(let ticks, let through): write(name, generation, ticks, through: through)
        case .waitForPrevious: whenPreviousEnds(name, generation) { [weak self] in self?.writeQueued(name, generation) }
        }
    }

    /// Runs `action` once the schedule's last task has ended (after its write lands, if in flight).
    private func whenPreviousEnds(_ name: String, _ generation: Int, _ action: @escaping @Sendable () -> Void) {
        enum Wait {
            case now
            case future(Future)
            case landing
        }
        let wait = entries.withLock { entries -> Wait in
            guard let entry = entries[name], entry.generation == generation else { return .now }
            if entry.inFlight {
                entries[name]!.afterLanding.append { [weak self] in self?.whenPreviousEnds(name, generation, action) }
                return .landing
            }
            if let id = entry.lastTask, let future = scheduler.futures[id], !future.isDone { return .future(future) }
            return .now
        }
        switch wait {
        case .now: action()
        case .future(let future): future.addDoneCallback { _ in action() }
        case .landing: break
        }
    }

    private func writeQueued(_ name: String, _ generation: Int) {
        let queued = entries.withLock { entries -> (tick: Date, through: Date)? in
            guard entries[name]?.generation == generation else { return nil }
            defer { entries[name]?.queued = nil }
            return entries[name]?.queued
        }
        if let queued { write(name, generation, [queued.tick], through: queued.through) }
    }

    /// Writes the firing (its tasks and the progress, together), then starts its tasks.
    private func write(_ name: String, _ generation: Int, _ ticks: [Date], through: Date) {
        guard
            let entry = entries.withLock({ entries -> Entry? in
                guard entries[name]?.generation == generation else { return nil }
                if !ticks.isEmpty { entries[name]?.inFlight = true }
                return entries[name]
            })
        else { return }
        let checked = entry.checked
        let now = scheduler.clock.now
        let submissions = ticks.map { tick in
            let record = TaskRecord(
                id: scheduler.newTaskID(), name: checked.task.name, args: checked.arguments.positional,
                kwargs: checked.arguments.keywordArguments, submittedAt: now, runAt: tick > now ? tick : nil, schedule: name, tick: tick)
            return Submission(record: record, task: checked.task, arguments: checked.arguments, words: entry.spec.arguments)
        }
        persistence.acceptFiring(schedule: name, submissions, through: through) { [self] result in
            if case .failure(let error) = result {
                logger.error(
                    "a schedule's firing could not be written; it did not run", metadata: ["schedule": "\(name)", "error": "\(error)"])
            } else if !submissions.isEmpty && !launcher.persistence.sharedByHosts {
                // With a shared store they run where they are claimed, as every submission does.
                launcher.run(submissions)
            }
            // Whatever became of the schedule meanwhile (paused, re-armed), this is its latest task
            // and its write is no longer in flight.
            let waiting = entries.withLock { entries -> [@Sendable () -> Void] in
                guard var entry = entries[name] else { return [] }
                defer { entries[name] = entry }
                entry.inFlight = false
                switch result {
                case .success:
                    if let last = submissions.last { entry.lastTask = last.record.id }
                    entry.runs += submissions.count
                    entry.lastError = nil
                case .failure(let error):
                    entry.lastError = "a firing could not be written: \(error)"
                }
                defer { entry.afterLanding = [] }
                return entry.afterLanding
            }
            for action in waiting { action() }
        }
    }

    /// The next firings of all schedules, soonest first.
    func upcoming(_ limit: Int) -> [(name: String, at: Date)] {
        let handles = entries.withLock { $0.compactMap { name, entry in entry.handle.map { (name, $0) } } }
        let firings = handles.compactMap { name, handle -> (name: String, at: Date)? in handle.nextFire.map { (name: name, at: $0) } }
        return Array(firings.sorted { $0.at < $1.at }.prefix(limit))
    }
}
