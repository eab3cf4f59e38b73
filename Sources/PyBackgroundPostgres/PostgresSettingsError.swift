/// A `state.url` or password setting pybgd cannot use, with what was wrong and what is accepted.
public struct PostgresSettingsError: Error, Equatable, CustomStringConvertible {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
