import Foundation

extension Process {
    /// Kills the process (SIGKILL) if it still runs after `seconds`: a program that hangs (the
    /// fault some tests look for) fails its test instead of hanging the suite. Cancel the returned
    /// item once the process has ended.
    public func killed(after seconds: Double) -> DispatchWorkItem {
        let pid = processIdentifier
        let watchdog = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: watchdog)
        return watchdog
    }
}
