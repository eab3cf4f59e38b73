#if canImport(Glibc)
import Glibc
#endif

/// Waits until `condition` holds, reading it every millisecond, for at most `timeout`: for a
/// state that no callback reports (a task between attempts). Returns whether it held.
public func eventually(timeout: Duration = .seconds(30), _ condition: () -> Bool) -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while !condition() {
        if clock.now >= deadline { return condition() }
        usleep(1000)
    }
    return true
}
