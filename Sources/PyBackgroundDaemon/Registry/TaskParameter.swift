import PyBackgroundProtocol

/// The type of a task parameter; what an argument's text must parse as.
public enum ParameterType: String, Sendable, Hashable, CaseIterable {
    case int, double, string, bool

    /// Parses `text` as this type; nil if it does not. Bools take true/false, yes/no, on/off, 1/0.
    public func parse(_ text: String) -> ArgumentValue? {
        switch self {
        case .int: Int(text).map(ArgumentValue.int)
        case .double: Double(text).flatMap { $0.isFinite ? ArgumentValue.double($0) : nil }
        case .string: .string(text)
        case .bool:
            switch text.lowercased() {
            case "true", "yes", "on", "1": .bool(true)
            case "false", "no", "off", "0": .bool(false)
            default: nil
            }
        }
    }

    /// What a person should type, for error messages.
    var expectation: String {
        switch self {
        case .int: "an integer"
        case .double: "a number"
        case .string: "a string"
        case .bool: "true or false"
        }
    }
}

/// A typed argument value, as bound to a parameter.
public enum ArgumentValue: Sendable, Hashable, CustomStringConvertible {
    case int(Int)
    case double(Double)
    case string(String)
    case bool(Bool)

    /// The value as JSON, as the tables show it.
    public var json: JSONValue {
        switch self {
        case .int(let value): .int(value)
        case .double(let value): .double(value)
        case .string(let value): .string(value)
        case .bool(let value): .bool(value)
        }
    }

    /// The text substituted into a command's argv.
    public var description: String {
        switch self {
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): value
        case .bool(let value): value ? "true" : "false"
        }
    }

    /// The type this value has.
    public var type: ParameterType {
        switch self {
        case .int: .int
        case .double: .double
        case .string: .string
        case .bool: .bool
        }
    }

    /// The value as a Double, for int and double values.
    public var doubleValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .double(let value): value
        case .string, .bool: nil
        }
    }
}

/// One declared parameter of a registered task.
///
/// ```swift
/// TaskParameter("cost", .double, default: .double(1), minimum: 0, description: "seconds to sleep first")
/// ```
public struct TaskParameter: Sendable, Hashable {
    /// The name clients use with `name=value`.
    public let name: String
    /// What the argument must parse as.
    public let type: ParameterType
    /// Used when the argument is not given; nil makes the parameter required.
    public let defaultValue: ArgumentValue?
    /// The smallest value accepted, for int and double parameters.
    public let minimum: Double?
    /// One line for `pybgctl list`.
    public let description: String?

    /// A parameter; without a default it is required.
    public init(
        _ name: String, _ type: ParameterType, default defaultValue: ArgumentValue? = nil,
        minimum: Double? = nil, description: String? = nil
    ) {
        self.name = name
        self.type = type
        self.defaultValue = defaultValue
        self.minimum = minimum
        self.description = description
    }

    /// True when the parameter has no default.
    public var isRequired: Bool { defaultValue == nil }

    /// `name:type` or `name:type=default`, as `LIST` and error messages show it.
    public var signature: String {
        "\(name):\(type.rawValue)" + (defaultValue.map { "=\($0)" } ?? "")
    }

    /// How LIST shows it.
    public var payload: ParameterPayload {
        ParameterPayload(
            name: name, type: type.rawValue, required: isRequired,
            default: defaultValue?.json, description: description)
    }
}
