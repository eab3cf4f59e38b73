/// `SCHEDULE …`: the recurring schedules managed at run time.
public enum ScheduleRequest: Hashable, Sendable {
    /// `SCHEDULE ADD name every=SPAN|cron=EXPR [option=value…] task [arg…]` (``ScheduleSpec``).
    case add(name: String, spec: ScheduleSpec)
    /// `SCHEDULE LIST`: every schedule with its next and last run.
    case list
    /// `SCHEDULE SHOW name`: one schedule.
    case show(name: String)
    /// `SCHEDULE PAUSE name`: no firings until resumed.
    case pause(name: String)
    /// `SCHEDULE RESUME name`: fires again from the next tick to come; missed ones are not made up.
    case resume(name: String)
    /// `SCHEDULE REMOVE name`: for good; tasks it made stay. Config-declared ones are removed from the config.
    case remove(name: String)

    static let usage = "SCHEDULE ADD name every=SPAN|cron=EXPR [option=value…] task [arg…] | LIST | SHOW name | PAUSE name | RESUME name | REMOVE name"

    /// Reads the words after `SCHEDULE`.
    static func parse(_ words: [String]) throws(ProtocolError) -> ScheduleRequest {
        guard let sub = words.first else { throw ProtocolError(.badRequest, "SCHEDULE needs a sub-command: \(usage)") }
        let rest = Array(words.dropFirst())
        func name() throws(ProtocolError) -> String {
            guard rest.count == 1 else { throw ProtocolError(.badRequest, "SCHEDULE \(sub.uppercased()) takes one schedule name") }
            return rest[0]
        }
        switch sub.uppercased() {
        case "ADD":
            guard let name = rest.first else { throw ProtocolError(.badRequest, "SCHEDULE ADD needs a name: \(usage)") }
            try validate(name: name)
            return .add(name: name, spec: try ScheduleSpec.parse(Array(rest.dropFirst())))
        case "LIST":
            guard rest.isEmpty else { throw ProtocolError(.badRequest, "SCHEDULE LIST takes no arguments") }
            return .list
        case "SHOW": return .show(name: try name())
        case "PAUSE": return .pause(name: try name())
        case "RESUME": return .resume(name: try name())
        case "REMOVE": return .remove(name: try name())
        default: throw ProtocolError(.badRequest, "unknown SCHEDULE sub-command \"\(sub)\": \(usage)")
        }
    }

    /// A schedule name: 1 to 64 letters, digits, `-`, `_`, `.`, starting with a letter or digit.
    public static func validate(name: String) throws(ProtocolError) {
        guard Name.isValid(name) else {
            throw ProtocolError(
                .badRequest, "\"\(name)\" is not a schedule name: 1 to 64 letters, digits, -, _ or ., starting with a letter or digit")
        }
    }

    var words: [String] {
        switch self {
        case .add(let name, let spec): ["ADD", name] + spec.words
        case .list: ["LIST"]
        case .show(let name): ["SHOW", name]
        case .pause(let name): ["PAUSE", name]
        case .resume(let name): ["RESUME", name]
        case .remove(let name): ["REMOVE", name]
        }
    }
}
