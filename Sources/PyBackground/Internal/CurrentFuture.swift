#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The future whose body runs on this thread, for ``Future/current``: a pthread key, since
/// workers are plain threads (no Swift task, so no task-local), set and cleared around each body.
enum CurrentFuture {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create failed with error \(status)")
        return key
    }()

    /// The future running on this thread, unretained: it is set only while its body runs, and
    /// the worker holds the future for that long.
    static var value: Future? {
        guard let pointer = pthread_getspecific(key) else { return nil }
        return Unmanaged<Future>.fromOpaque(pointer).takeUnretainedValue()
    }

    /// Makes `future` current and returns what was (a body that runs another task inline nests).
    static func replace(with future: Future?) -> UnsafeMutableRawPointer? {
        let previous = pthread_getspecific(key)
        pthread_setspecific(key, future.map { Unmanaged.passUnretained($0).toOpaque() })
        return previous
    }

    static func restore(_ previous: UnsafeMutableRawPointer?) {
        pthread_setspecific(key, previous)
    }
}
