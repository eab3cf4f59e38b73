import PyBackground
import PyBackgroundProtocol

extension TaskRecord {
    /// Words that bind to the same arguments again, for RETRY: every keyword as `name=value`, then
    /// `--` and the positional values, so that no value is read as anything but itself.
    var rerunWords: [String] {
        let keywords = kwargs.map { "\($0.name)=\(Self.text(of: $0.value))" }
        let positional = args.map(Self.text(of:))
        return positional.isEmpty ? keywords : keywords + ["--"] + positional
    }

    private static func text(of value: any Sendable) -> String {
        switch value {
        case let argument as ArgumentValue: argument.description
        // Restored after a restart, the arguments come back as JSON.
        case JSONValue.string(let text) as JSONValue: text
        case JSONValue.int(let number) as JSONValue: "\(number)"
        case JSONValue.double(let number) as JSONValue: "\(number)"
        case JSONValue.bool(let flag) as JSONValue: flag ? "true" : "false"
        default: "\(value)"
        }
    }
}
