import PyBackgroundTesting
import Testing

@testable import PyBackground

@Suite("FIFOQueue")
struct FIFOQueueTests {
    @Test("pops in push order across its internal compactions")
    func keepsOrder() {
        var queue = FIFOQueue<Int>()
        var expected = 0
        var next = 0
        for round in 0..<50 {
            for _ in 0..<(round * 97 % 3000) {
                queue.push(next)
                next += 1
            }
            for _ in 0..<(round * 61 % 2500) {
                guard let value = queue.pop() else { break }
                #expect(value == expected)
                expected += 1
            }
            #expect(queue.count == next - expected)
        }
        while let value = queue.pop() {
            #expect(value == expected)
            expected += 1
        }
        #expect(expected == next)
        #expect(queue.isEmpty)
    }

    @Test("removeAll returns what is left, oldest first")
    func removeAllReturnsRemainder() {
        var queue = FIFOQueue<Int>()
        for value in 0..<2000 { queue.push(value) }
        for _ in 0..<1500 { _ = queue.pop() }
        #expect(queue.removeAll() == Array(1500..<2000))
        #expect(queue.isEmpty && queue.pop() == nil)
    }
}
