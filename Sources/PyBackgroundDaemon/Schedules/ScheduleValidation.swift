// Foundation, not only FoundationEssentials: named time zones come from ICU's tz data.
import Foundation
import PyBackground
import PyBackgroundProtocol

/// Checks a ``ScheduleSpec`` against what the daemon knows: the cron rules, the IANA zones, and
/// the registered task and its parameters. The same check for the config's `schedules:` (at start
/// and reload) and for `SCHEDULE ADD`.
struct ScheduleValidation {
    let registry: TaskRegistry
    /// The zone of a cron schedule without `tz=`, and of a `start=` without an offset.
    let zone: TimeZone

    /// A schedule ready to arm: its trigger, and the task each firing submits.
    struct Checked: Sendable {
        let trigger: ScheduleTrigger
        let misfire: MisfirePolicy
        let overlap: OverlapPolicy
        let task: RegisteredTask
        let arguments: BoundArguments
    }

    /// `createdAt` anchors an interval without `start=`: its first tick is one span after it.
    func check(_ spec: ScheduleSpec, createdAt: Date) -> Result<Checked, ProtocolError> {
        let trigger: ScheduleTrigger
        switch spec.trigger {
        case .every(let span):
            let seconds = span.secondsAsDouble
            guard seconds >= 1 else {
                return .failure(ProtocolError(.badRequest, "every=\(TimeSpan.format(span)) is shorter than a second, the shortest interval"))
            }
            let start = spec.start?.date(in: zone) ?? createdAt.addingTimeInterval(seconds)
            trigger = .interval(IntervalSchedule(every: span, startingAt: start))
        case .cron(let text):
            let expression: CronExpression
            do {
                expression = try CronExpression(text)
            } catch {
                return .failure(ProtocolError(.badRequest, "cron=\"\(text)\": \(error)"))
            }
            var timeZone = zone
            if let name = spec.timeZone {
                guard let named = TimeZone(identifier: name) else {
                    return .failure(ProtocolError(.badRequest, "tz=\(name) is not a time zone; give an IANA name such as Europe/Berlin or UTC"))
                }
                timeZone = named
            }
            trigger = .cron(CronSchedule(expression, timeZone: timeZone))
        }
        guard let task = registry[spec.task] else {
            return .failure(
                ProtocolError(.unknownTask, "no task named \"\(spec.task)\"; registered: \(registry.names.joined(separator: ", "))"))
        }
        let arguments: BoundArguments
        do {
            arguments = try BoundArguments.bind(spec.arguments, to: task.parameters, task: spec.task)
        } catch {
            return .failure(ProtocolError(ErrorCode(error.code.rawValue), error.message))
        }
        let misfire: MisfirePolicy =
            switch spec.misfire {
            case .skip: .skip
            case .once: .once
            case .all(let maximum): .all(maximum: maximum)
            }
        let overlap: OverlapPolicy =
            switch spec.overlap {
            case .allow: .allow
            case .skip: .skip
            case .queue: .queue
            }
        return .success(Checked(trigger: trigger, misfire: misfire, overlap: overlap, task: task, arguments: arguments))
    }
}
