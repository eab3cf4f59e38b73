/// One of a task's two output streams.
public enum StandardStream: String, Codable, Hashable, Sendable, CaseIterable {
    case stdout
    case stderr
}
