#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// What a host that keeps tasks on disk knows of a task's earlier attempts when it starts the
/// task again: the attempts that failed, and, for one that was waiting to retry, when it runs.
package struct AttemptHistory: Sendable {
    package var attempts: [TaskAttempt]
    /// Set: the task starts `retrying`, and runs at this time.
    package var retryAt: Date?

    package init(attempts: [TaskAttempt], retryAt: Date? = nil) {
        self.attempts = attempts
        self.retryAt = retryAt
    }
}
