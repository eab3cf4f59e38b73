import PyBackgroundProtocol

/// A task's arguments after checking: one typed value per declared parameter, defaults filled in,
/// plus what the submitter actually typed (positional and `key=value`), for the task table.
///
/// ```swift
/// let bound = try BoundArguments.bind(["2", "label=x"], to: parameters, task: "now")
/// bound.double("cost")   // 2.0
/// ```
public struct BoundArguments: Sendable, Hashable {
    /// Every parameter's value, by name.
    public let values: [String: ArgumentValue]
    /// The positional arguments as given, typed.
    public let positional: [ArgumentValue]
    /// The keyword arguments as given, typed, in the order given.
    public let keywords: [(name: String, value: ArgumentValue)]

    public static func == (lhs: BoundArguments, rhs: BoundArguments) -> Bool {
        lhs.values == rhs.values && lhs.positional == rhs.positional
            && lhs.keywords.map(\.name) == rhs.keywords.map(\.name) && lhs.keywords.map(\.value) == rhs.keywords.map(\.value)
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(values)
        hasher.combine(positional)
    }

    /// Arguments already bound (for tests and custom hosts); ``bind(_:to:task:)`` makes them from words.
    public init(values: [String: ArgumentValue], positional: [ArgumentValue] = [], keywords: [(name: String, value: ArgumentValue)] = []) {
        self.values = values
        self.positional = positional
        self.keywords = keywords
    }

    /// A parameter's value.
    public subscript(name: String) -> ArgumentValue? { values[name] }

    /// An int parameter's value.
    public func int(_ name: String) -> Int? {
        if case .int(let value)? = values[name] { return value }
        return nil
    }

    /// A double (or int) parameter's value.
    public func double(_ name: String) -> Double? { values[name]?.doubleValue }

    /// A string parameter's value.
    public func string(_ name: String) -> String? {
        if case .string(let value)? = values[name] { return value }
        return nil
    }

    /// A bool parameter's value.
    public func bool(_ name: String) -> Bool? {
        if case .bool(let value)? = values[name] { return value }
        return nil
    }

    /// Checks `words` against `parameters`, the seed's args and kwargs in one list.
    ///
    /// A word `name=value` whose `name` is a declared parameter is a keyword argument; any other word
    /// is the next positional one. A word that looks like a keyword (`identifier=value`) but names
    /// no parameter is refused, with the parameters' names: a misspelled keyword must not quietly
    /// become a value. The word `--` ends the keywords: every word after it is a positional value
    /// as it is. Throws ``TaskFailure`` with code `bad-argument`, naming the parameter and the type
    /// it takes, for a value of the wrong type, a missing required parameter, one given twice, an
    /// unknown keyword, or too many positional arguments.
    public static func bind(_ words: [String], to parameters: [TaskParameter], task: String) throws(TaskFailure) -> BoundArguments {
        var values: [String: ArgumentValue] = [:]
        var positional: [ArgumentValue] = []
        var keywords: [(name: String, value: ArgumentValue)] = []
        var nextPositional = 0
        let byName = Dictionary(parameters.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var literal = false

        for word in words {
            if !literal && word == "--" {
                literal = true
                continue
            }
            if !literal, let equals = word.firstIndex(of: "=") {
                let name = String(word[..<equals])
                if let parameter = byName[name] {
                    let value = try parse(String(word[word.index(after: equals)...]), for: parameter, task: task)
                    guard values[parameter.name] == nil else {
                        throw TaskFailure(.badArgument, "\(task): \(parameter.name) is given twice")
                    }
                    values[parameter.name] = value
                    keywords.append((parameter.name, value))
                    continue
                }
                if isKeywordLike(name) {
                    let known = parameters.isEmpty ? "it takes no arguments" : "its parameters: \(parameters.map(\.name).joined(separator: ", "))"
                    throw TaskFailure(
                        .badArgument,
                        "\(task) has no parameter \"\(name)\" (\(known)); to pass \"\(word)\" as a value, put it after --")
                }
            }
            // Positional: the next parameter not already given by keyword.
            while nextPositional < parameters.count && values[parameters[nextPositional].name] != nil { nextPositional += 1 }
            guard nextPositional < parameters.count else {
                throw TaskFailure(.badArgument, "\(task) takes \(describe(parameters)); \"\(word)\" is one argument too many")
            }
            let parameter = parameters[nextPositional]
            let value = try parse(word, for: parameter, task: task)
            values[parameter.name] = value
            positional.append(value)
            nextPositional += 1
        }
        for parameter in parameters where values[parameter.name] == nil {
            guard let defaultValue = parameter.defaultValue else {
                throw TaskFailure(.badArgument, "\(task): missing \(parameter.name) (\(parameter.type.expectation)); it takes \(describe(parameters))")
            }
            values[parameter.name] = defaultValue
        }
        return BoundArguments(values: values, positional: positional, keywords: keywords)
    }

    private static func parse(_ text: String, for parameter: TaskParameter, task: String) throws(TaskFailure) -> ArgumentValue {
        guard let value = parameter.type.parse(text) else {
            throw TaskFailure(.badArgument, "\(task): \(parameter.name) must be \(parameter.type.expectation) (\(parameter.type.rawValue)), got \"\(text)\"")
        }
        if let minimum = parameter.minimum, let number = value.doubleValue, number < minimum {
            throw TaskFailure(.badArgument, "\(task): \(parameter.name) must be at least \(minimum), got \(text)")
        }
        return value
    }

    /// `name` as a keyword is typed: a letter or underscore, then letters, digits, `_` or `-`.
    /// Other texts before an `=` (a URL's query, `a b=c`, `=x`) are values.
    static func isKeywordLike(_ name: String) -> Bool {
        let letter = { (scalar: Unicode.Scalar) in ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_" }
        guard let first = name.unicodeScalars.first, letter(first) else { return false }
        return name.unicodeScalars.allSatisfy { letter($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    static func describe(_ parameters: [TaskParameter]) -> String {
        parameters.isEmpty ? "no arguments" : parameters.map(\.signature).joined(separator: " ")
    }
}
