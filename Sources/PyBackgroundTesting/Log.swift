import Synchronization

/// An ordered record that several threads append to: the order tasks ran in, the chunks a
/// reader thread collected.
public final class Log<Element: Sendable>: Sendable {
    private let entries = Mutex<[Element]>([])

    public init() {}

    public func append(_ element: Element) { entries.withLock { $0.append(element) } }

    /// Everything appended so far, in order.
    public var all: [Element] { entries.withLock { $0 } }
}
