import ArgumentParser
import PyBackgroundProtocol

/// `pybgctl schedule add|list|show|pause|resume|remove`: the daemon's recurring schedules.
struct ScheduleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Manage recurring schedules: add, list, show, pause, resume, remove.",
        discussion: """
            Each firing submits the schedule's task as an ordinary task (its own id, in the tables, \
            waitable). Schedules declared in the config file (schedules:) are listed too; pause them \
            here, remove them from the file.
            """,
        subcommands: [Add.self, List.self, Show.self, Pause.self, Resume.self, Remove.self],
        defaultSubcommand: List.self)

    struct Add: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add a schedule that submits TASK [ARG…] at each tick.",
            discussion: """
                  pybgctl schedule add beat noop --every 30s
                  pybgctl schedule add nightly backup /srv --cron "30 2 * * *" --tz Europe/Berlin --misfire skip
                Cron: five fields (minute hour day-of-month month day-of-week), or six with seconds \
                first, or @hourly, @daily, @weekly, @monthly, @yearly. --misfire says what ticks \
                missed while pybgd was down become: skip (none), once (one run, the default), all \
                (each, up to 100; all:N up to N). --overlap says what a tick does while the previous \
                task still runs: allow (the default), skip, queue.
                """)

        @OptionGroup var options: GlobalOptions
        @OptionGroup var reply: ReplyTimeoutOption

        @Argument(help: "The schedule's name: letters, digits, - _ . (up to 64).")
        var name: String
        @Argument(help: "The registered task each firing submits.")
        var task: String
        @Argument(help: "Its arguments: values in order, or key=value.")
        var arguments: [String] = []

        @Option(name: .long, help: ArgumentHelp("Fire every span: 30s, 5m, 1h, 1d.", valueName: "span"))
        var every: String?
        @Option(name: .long, help: ArgumentHelp("Fire when the cron expression matches.", valueName: "expression"))
        var cron: String?
        @Option(name: .long, help: ArgumentHelp("IANA time zone of --cron (default: the daemon's).", valueName: "zone"))
        var tz: String?
        @Option(name: .long, help: ArgumentHelp("First tick of --every (default: one span from now).", valueName: "time"))
        var start: String?
        @Option(name: .long, help: ArgumentHelp("skip, once, all or all:N.", valueName: "policy"))
        var misfire: String?
        @Option(name: .long, help: ArgumentHelp("allow, skip or queue.", valueName: "policy"))
        var overlap: String?

        func spec() throws -> ScheduleSpec {
            var words: [String] = []
            if let every { words.append("every=\(every)") }
            if let cron { words.append("cron=\(cron)") }
            if let tz { words.append("tz=\(tz)") }
            if let start {
                do {
                    words.append("start=\(LocalTime.withOffset(try Timestamp.parse(start[...])))")
                } catch let error as ProtocolError {
                    throw ValidationError(error.message)
                }
            }
            if let misfire { words.append("misfire=\(misfire)") }
            if let overlap { words.append("overlap=\(overlap)") }
            do {
                return try ScheduleSpec.parse(words + [task] + SubmitCommand.requestWords(arguments, commandLine: PybgctlCommand.words))
            } catch {
                throw ValidationError(error.message)
            }
        }

        func validate() throws {
            do {
                try ScheduleRequest.validate(name: name)
            } catch {
                throw ValidationError(error.message)
            }
            _ = try spec()
        }

        func run() throws {
            try ScheduleCommand.send(.add(name: name, spec: try spec()), options, reply) { schedule in
                Output.line("added \(schedule.name): \(schedule.trigger), next \(schedule.nextRun.map { Output.when($0) } ?? "never")")
            }
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the schedules: trigger, next run, last run and its outcome.")

        @OptionGroup var options: GlobalOptions
        @OptionGroup var reply: ReplyTimeoutOption

        func run() throws {
            let client = try options.client(replyTimeout: reply.timeout)
            let (payload, json) = try client.request(.schedule(.list), as: SchedulesPayload.self)
            if options.json { return Output.json(json) }
            guard !payload.schedules.isEmpty else { return Output.line("no schedules (pybgctl schedule add, or schedules: in the config)") }
            Output.table(
                ["NAME", "TRIGGER", "TASK", "NEXT", "LAST", "STATE"],
                payload.schedules.map { schedule in
                    [
                        VisibleText.cell(schedule.name, width: Output.nameWidth),
                        VisibleText.cell(schedule.trigger, width: Output.argumentsWidth),
                        VisibleText.cell(schedule.task, width: Output.nameWidth),
                        schedule.paused ? "paused" : schedule.nextRun.map { Output.when($0) } ?? "never",
                        schedule.lastTick.map { Output.when($0) } ?? "-",
                        schedule.error != nil ? "error" : schedule.lastState ?? "-",
                    ]
                }
            ).forEach(Output.line)
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show one schedule.")

        @OptionGroup var options: GlobalOptions
        @OptionGroup var reply: ReplyTimeoutOption
        @Argument(help: "The schedule's name.") var name: String

        func run() throws {
            try ScheduleCommand.send(.show(name: name), options, reply, then: ScheduleCommand.describe)
        }
    }

    struct Pause: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop a schedule firing until resumed.")

        @OptionGroup var options: GlobalOptions
        @OptionGroup var reply: ReplyTimeoutOption
        @Argument(help: "The schedule's name.") var name: String

        func run() throws {
            try ScheduleCommand.send(.pause(name: name), options, reply) { Output.line("paused \($0.name)") }
        }
    }

    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Fire again from the next tick; ticks missed while paused are not made up.")

        @OptionGroup var options: GlobalOptions
        @OptionGroup var reply: ReplyTimeoutOption
        @Argument(help: "The schedule's name.") var name: String

        func run() throws {
            try ScheduleCommand.send(.resume(name: name), options, reply) { schedule in
                Output.line("resumed \(schedule.name), next \(schedule.nextRun.map { Output.when($0) } ?? "never")")
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a schedule added at run time; the tasks it made stay.")

        @OptionGroup var options: GlobalOptions
        @OptionGroup var reply: ReplyTimeoutOption
        @Argument(help: "The schedule's name.") var name: String

        func run() throws {
            try ScheduleCommand.send(.remove(name: name), options, reply) { Output.line("removed \($0.name)") }
        }
    }

    /// Sends a request whose reply is one schedule: its JSON with --json, else what `say` prints.
    static func send(
        _ request: ScheduleRequest, _ options: GlobalOptions, _ reply: ReplyTimeoutOption, then say: (SchedulePayload) -> Void
    ) throws {
        let (schedule, json) = try options.client(replyTimeout: reply.timeout).request(.schedule(request), as: SchedulePayload.self)
        if options.json { return Output.json(json) }
        say(schedule)
    }

    /// `schedule show`: a field per line.
    static func describe(_ schedule: SchedulePayload) {
        let lines: [(String, String)] =
            [
                ("name", schedule.name),
                ("trigger", schedule.trigger),
                ("runs", LineTokenizer.join(Array(schedule.definition.drop { $0.contains("=") }))),
                ("misfire", schedule.misfire), ("overlap", schedule.overlap),
                ("from", schedule.origin == "config" ? "the config file" : "added at run time"),
                ("next", schedule.paused ? "paused" : schedule.nextRun.map { Output.when($0) } ?? "never"),
                ("last tick", schedule.lastTick.map { Output.when($0) } ?? "-"),
                ("last task", schedule.lastTask.map { "\($0) (\(schedule.lastState ?? "dropped from the tables"))" } ?? "-"),
                (
                    "fired",
                    "\(schedule.runs) task\(schedule.runs == 1 ? "" : "s"), \(schedule.skipped) tick\(schedule.skipped == 1 ? "" : "s") let pass (since pybgd started)"
                ),
            ] + (schedule.error.map { [("error", $0)] } ?? [])
        for (label, value) in lines { Output.line("\(label):\(String(repeating: " ", count: 11 - label.count))\(value)") }
    }
}
