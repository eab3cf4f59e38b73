/// A command's argv with `{parameter}` placeholders, checked once when the config is loaded.
///
/// `["rsync", "-a", "{source}", "--bwlimit={limit}"]` with source=/srv and limit=100 runs
/// `rsync -a /srv --bwlimit=100`. Each element stays one argv entry whatever the value holds:
/// nothing is ever passed through a shell. `{{` and `}}` stand for literal braces.
public struct ArgvTemplate: Sendable, Hashable {
    enum Part: Sendable, Hashable {
        case literal(String)
        case parameter(String)
    }

    let elements: [[Part]]

    /// Parses `argv`; throws a message naming the element at fault.
    public init(_ argv: [String], parameters: [TaskParameter]) throws(TemplateError) {
        guard let first = argv.first, !first.isEmpty else { throw TemplateError("argv must name a program first") }
        let declared = Set(parameters.map(\.name))
        var elements: [[Part]] = []
        for (index, element) in argv.enumerated() {
            var parts: [Part] = []
            var literal = ""
            var characters = element[...]
            while let character = characters.popFirst() {
                switch character {
                case "{" where characters.first == "{":
                    characters.removeFirst()
                    literal.append("{")
                case "}" where characters.first == "}":
                    characters.removeFirst()
                    literal.append("}")
                case "{":
                    guard let close = characters.firstIndex(of: "}") else {
                        throw TemplateError("argv[\(index)] \"\(element)\" has a { without its } (write {{ for a literal brace)")
                    }
                    let name = String(characters[..<close])
                    guard declared.contains(name) else {
                        throw TemplateError(
                            "argv[\(index)] uses {\(name)}, which is not a declared parameter (declared: \(declared.sorted().joined(separator: ", ")))")
                    }
                    if !literal.isEmpty {
                        parts.append(.literal(literal))
                        literal = ""
                    }
                    parts.append(.parameter(name))
                    characters = characters[characters.index(after: close)...]
                case "}":
                    throw TemplateError("argv[\(index)] \"\(element)\" has a } without its { (write }} for a literal brace)")
                default:
                    literal.append(character)
                }
            }
            if !literal.isEmpty || parts.isEmpty { parts.append(.literal(literal)) }
            if index == 0, parts.contains(where: { if case .parameter = $0 { true } else { false } }) {
                throw TemplateError("argv[0] must be a fixed program, not a placeholder")
            }
            elements.append(parts)
        }
        self.elements = elements
    }

    /// The program, argv[0]: always fixed text.
    public var program: String {
        elements[0].map { if case .literal(let text) = $0 { text } else { "" } }.joined()
    }

    /// The argv for these arguments.
    public func render(_ arguments: BoundArguments) -> [String] {
        elements.map { parts in
            parts.map { part in
                switch part {
                case .literal(let text): text
                case .parameter(let name): arguments[name]?.description ?? ""
                }
            }.joined()
        }
    }

    /// A malformed template: which element, and why.
    public struct TemplateError: Error, Hashable, Sendable {
        /// What is wrong, naming the argv element.
        public let message: String
        init(_ message: String) { self.message = message }
    }
}
