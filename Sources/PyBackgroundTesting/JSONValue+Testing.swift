import PyBackgroundProtocol

extension JSONValue {
    /// The members of an object; nil for any other value.
    public var objectValue: [String: JSONValue]? { if case .object(let object) = self { object } else { nil } }
}
