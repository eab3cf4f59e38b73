#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The kernel's random numbers, read 4 KiB at a time.
///
/// `SystemRandomNumberGenerator` makes a `getrandom` system call per 64-bit word, two per task id,
/// which was a third of the cost of `start`. This reads `/dev/urandom` in bulk (one call per 256
/// ids) and falls back to `SystemRandomNumberGenerator` where that device cannot be read.
/// Not thread-safe: its owner serialises access.
struct BufferedSystemRandom: RandomNumberGenerator {
    private static let wordsPerRefill = 512
    private var words: [UInt64] = []
    private var position = 0

    mutating func next() -> UInt64 {
        if position == words.count { refill() }
        defer { position += 1 }
        return words[position]
    }

    private mutating func refill() {
        position = 0
        words = [UInt64](repeating: 0, count: Self.wordsPerRefill)
        let filled = words.withUnsafeMutableBytes { buffer in
            BufferedSystemRandom.readDevice(into: buffer)
        }
        if !filled {
            var system = SystemRandomNumberGenerator()
            for index in words.indices { words[index] = system.next() }
        }
    }

    /// Fills `buffer` from /dev/urandom; false if the device could not be fully read.
    private static func readDevice(into buffer: UnsafeMutableRawBufferPointer) -> Bool {
        let descriptor = open("/dev/urandom", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var offset = 0
        while offset < buffer.count {
            let count = read(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if count < 0 && errno == EINTR { continue }
            guard count > 0 else { return false }
            offset += count
        }
        return true
    }
}
