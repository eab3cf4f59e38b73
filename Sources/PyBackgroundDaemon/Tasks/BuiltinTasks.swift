import PyBackgroundProtocol

extension TaskRegistry {
    /// The tasks every daemon has: the seed's `now`, `utcnow` and `timer`, and `noop` and `sleep`
    /// for tests and benchmarks.
    public static var builtins: TaskRegistry {
        var registry = TaskRegistry()
        for task in BuiltinTasks.all {
            try! registry.register(task)  // fixed names and parameters, checked by the tests
        }
        return registry
    }
}

enum BuiltinTasks {
    static let all: [RegisteredTask] = [now, utcnow, timer, noop, sleep]

    private static let cost = TaskParameter(
        "cost", .double, default: .double(1), minimum: 0,
        description: "seconds to sleep before reading the clock")

    static let now = clock(name: "now", zone: .local, zoneName: "local")
    static let utcnow = clock(name: "utcnow", zone: .utc, zoneName: "UTC")

    /// The seed's `now(cost)` and `utcnow(cost)`: sleep, then read the clock.
    private static func clock(name: String, zone: TimeFormatting.Zone, zoneName: String) -> RegisteredTask {
        RegisteredTask(
            name: name, kind: .builtin,
            description: "sleep cost seconds, then return the \(zoneName) time as %Y-%m-%d %H:%M:%S %Z",
            parameters: [cost], retryIfInterrupted: true
        ) { context, arguments in
            try context.sleep(seconds: arguments.double("cost")!)
            return .string(TimeFormatting.now(in: zone))
        }
    }

    /// Keeps this many of the newest readings in the result: a timer may run for months.
    static let timerReadingsKept = 100

    static let timer = RegisteredTask(
        name: "timer", kind: .builtin,
        description: "record (and print) the local time every interval seconds until the daemon stops (the seed's infinite loop)",
        parameters: [
            TaskParameter(
                "interval", .double, default: .double(3), minimum: 0.001,
                description: "seconds between readings")
        ],
        retryIfInterrupted: true
    ) { context, arguments in
        let interval = arguments.double("interval")!
        var readings: [String] = []
        var ticks = 0
        while !context.isStopping {
            let reading = TimeFormatting.now(in: .local)
            ticks += 1
            readings.append(reading)
            if readings.count > timerReadingsKept { readings.removeFirst(readings.count - timerReadingsKept) }
            context.logger.debug("timer tick", metadata: ["task": "\(context.id)", "time": "\(reading)"])
            context.print(reading)
            try context.sleep(seconds: interval, wakingOnStop: true)
        }
        return .object(["ticks": .int(ticks), "readings": .array(readings.map(JSONValue.string))])
    }

    static let noop = RegisteredTask(
        name: "noop", kind: .builtin, description: "do nothing (for tests and benchmarks)", retryIfInterrupted: true
    ) { _, _ in .null }

    static let sleep = RegisteredTask(
        name: "sleep", kind: .builtin, description: "sleep the given seconds, then return them",
        parameters: [TaskParameter("seconds", .double, minimum: 0, description: "how long to sleep")],
        retryIfInterrupted: true
    ) { context, arguments in
        let seconds = arguments.double("seconds")!
        try context.sleep(seconds: seconds)
        return .double(seconds)
    }
}
