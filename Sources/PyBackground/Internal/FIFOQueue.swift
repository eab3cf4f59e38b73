/// A first-in first-out queue with amortised O(1) push and pop.
///
/// The standard library has no deque and the core takes no dependencies, so this keeps a head
/// index into an array and drops the consumed prefix once it is at least half the storage.
struct FIFOQueue<Element> {
    private var storage: [Element?] = []
    private var head = 0

    var count: Int { storage.count - head }
    var isEmpty: Bool { head == storage.count }

    mutating func push(_ element: Element) { storage.append(element) }

    /// The oldest element, left in place.
    var first: Element? { head < storage.count ? storage[head] : nil }

    mutating func pop() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        storage[head] = nil
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: storage.count <= 4096)
            head = 0
        } else if head >= 1024 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }

    /// Removes and returns every element, oldest first.
    mutating func removeAll() -> [Element] {
        let elements = storage[head...].compactMap { $0 }
        storage = []
        head = 0
        return elements
    }

    /// Drops the elements that match, keeping the order of the rest: O(count).
    mutating func removeAll(where shouldRemove: (Element) -> Bool) {
        storage = storage[head...].filter { element in element.map { !shouldRemove($0) } ?? false }
        head = 0
    }
}
