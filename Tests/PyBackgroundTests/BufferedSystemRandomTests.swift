import Testing

@testable import PyBackground

@Suite("Buffered system random")
struct BufferedSystemRandomTests {
    @Test("words drawn across many refills never repeat, nor does a refill repeat the one before")
    func wordsAcrossRefillsAreDistinct() {
        var random = BufferedSystemRandom()
        let count = BufferedSystemRandom.wordsPerRefill * 300 + 7
        let words = (0..<count).map { _ in random.next() }
        #expect(Set(words).count == count)
        let blocks = stride(from: 0, to: count - BufferedSystemRandom.wordsPerRefill, by: BufferedSystemRandom.wordsPerRefill).map {
            Array(words[$0..<$0 + BufferedSystemRandom.wordsPerRefill])
        }
        #expect(zip(blocks, blocks.dropFirst()).allSatisfy { $0 != $1 })
    }

    @Test("about half of all bits are set, as from a uniform source")
    func bitsAreBalanced() {
        var random = BufferedSystemRandom()
        let words = 4096
        let ones = (0..<words).reduce(0) { total, _ in total + random.next().nonzeroBitCount }
        // 262,144 bits: the standard deviation is 256, so ±2,048 is eight of them.
        #expect(abs(ones - words * 32) < 2048)
    }
}
