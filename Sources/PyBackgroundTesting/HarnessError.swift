/// Why a harness could not do what a test asked: a daemon that did not start or answer, a
/// socket that could not be bound. Its description names what and why.
public struct HarnessError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}
