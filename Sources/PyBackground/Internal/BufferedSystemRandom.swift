#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The kernel's random numbers, taken 256 bytes (16 task ids) at a time with `getentropy`.
///
/// `SystemRandomNumberGenerator` makes a system call per 64-bit word, two per task id, which was
/// a third of the cost of `start`. Reading 4 KiB of /dev/urandom once every 256 ids cost the
/// same per id as this but put 60–150 µs into every 256th `start`: the top samples of the core's
/// start-to-body latency (issue 20). A 256-byte call takes under a microsecond here (0.7 µs,
/// against 11 µs for the open, read and close of 4 KiB), so no start waits long for it. Falls
/// back to `SystemRandomNumberGenerator` where the call fails. Not thread-safe: its owner
/// serialises access.
struct BufferedSystemRandom: RandomNumberGenerator {
    /// 256 bytes: the most one `getentropy` call returns.
    static let wordsPerRefill = 32
    private var words = [UInt64](repeating: 0, count: wordsPerRefill)
    private var position = wordsPerRefill

    mutating func next() -> UInt64 {
        if position == words.count { refill() }
        defer { position += 1 }
        return words[position]
    }

    private mutating func refill() {
        position = 0
        let filled = words.withUnsafeMutableBytes { buffer in
            getentropy(buffer.baseAddress!, buffer.count) == 0
        }
        if !filled {
            var system = SystemRandomNumberGenerator()
            for index in words.indices { words[index] = system.next() }
        }
    }
}
