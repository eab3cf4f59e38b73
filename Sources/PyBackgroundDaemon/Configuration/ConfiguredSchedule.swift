import PyBackgroundProtocol

/// One entry of the config's `schedules:`: a name and what `SCHEDULE ADD` would say.
public struct ConfiguredSchedule: Sendable, Hashable {
    public var name: String
    public var spec: ScheduleSpec

    public init(name: String, spec: ScheduleSpec) {
        self.name = name
        self.spec = spec
    }
}
