#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The seed's `time.strftime('%Y-%m-%d %H:%M:%S %Z', time.localtime() / time.gmtime())`.
enum TimeFormatting {
    enum Zone { case local, utc }

    static func now(in zone: Zone) -> String {
        var clock = time(nil)
        var parts = tm()
        switch zone {
        case .local: localtime_r(&clock, &parts)
        case .utc: gmtime_r(&clock, &parts)
        }
        var buffer = [CChar](repeating: 0, count: 64)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%d %H:%M:%S %Z", &parts)
        return String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
