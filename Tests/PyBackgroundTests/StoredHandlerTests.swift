import Synchronization
import Testing

@testable import PyBackground

@Suite("Handlers kept in a Mutex")
struct StoredHandlerTests {
    /// A bare closure as a Mutex's value is wrapped in one more reabstraction thunk at every
    /// `withLock` that hands it out: read 200,000 times it became a chain 400,000 thunks deep,
    /// each call slower than the last, and its call overflowed the stack. Kept in a struct, it
    /// stays one closure.
    @Test("a handler read from its Mutex 200,000 times is still one call")
    func readManyTimes() {
        let calls = Mutex(0)
        let kept = Mutex<StoredHandler<Int>?>(StoredHandler { amount in calls.withLock { $0 += amount } })
        for _ in 0..<200_000 { kept.withLock { $0 }?.call(1) }
        #expect(calls.withLock { $0 } == 200_000)
    }
}
