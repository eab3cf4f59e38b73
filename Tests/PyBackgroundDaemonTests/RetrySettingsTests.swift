import PyBackground
import PyBackgroundProtocol
import Testing

@testable import PyBackgroundDaemon

@Suite("Which failures a task's retry settings retry")
struct RetrySettingsTests {
    static func exited(_ status: Int) -> TaskFailure {
        TaskFailure(.exitStatus, "exited with status \(status)", detail: .object(["exit_status": .int(status)]))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let codes: Set<String>?
        let exitStatuses: Set<Int>?
        let failure: any Error & Sendable
        let retried: Bool
        var testDescription: String {
            "codes \(codes.map { "\($0.sorted())" } ?? "any"), statuses \(exitStatuses.map { "\($0.sorted())" } ?? "any"): \(failure) → \(retried)"
        }
    }

    static let cases: [Case] = [
        Case(codes: nil, exitStatuses: nil, failure: exited(1), retried: true),
        Case(codes: nil, exitStatuses: nil, failure: TaskFailure(.timedOut, "slow"), retried: true),
        Case(codes: nil, exitStatuses: nil, failure: SchedulerError(.interrupted, "pybgd died"), retried: true),
        Case(codes: nil, exitStatuses: nil, failure: SchedulerError(.killed, "killed by uid 0"), retried: false),
        Case(codes: nil, exitStatuses: nil, failure: TaskFailure(.cancelledAtShutdown, "shutdown"), retried: false),
        Case(codes: ["timed-out"], exitStatuses: nil, failure: exited(1), retried: false),
        Case(codes: ["timed-out"], exitStatuses: nil, failure: TaskFailure(.timedOut, "slow"), retried: true),
        Case(codes: ["exit-status", "killed"], exitStatuses: nil, failure: SchedulerError(.killed, "killed"), retried: false),
        Case(codes: nil, exitStatuses: [75], failure: exited(75), retried: true),
        Case(codes: nil, exitStatuses: [75], failure: exited(1), retried: false),
        Case(codes: nil, exitStatuses: [75], failure: TaskFailure(.signalled, "signal 9"), retried: true),
        Case(codes: ["exit-status"], exitStatuses: [75, 111], failure: exited(111), retried: true),
    ]

    @Test("codes choose the failures that retry; exit statuses narrow exit-status; a kill, cancel or shutdown never retries", arguments: cases)
    func retries(_ entry: Case) {
        let settings = RetrySettings(maxAttempts: 3, codes: entry.codes, exitStatuses: entry.exitStatuses)
        #expect(settings.retries(entry.failure) == entry.retried)
        #expect(settings.policy.retries(afterAttempt: 1, failure: entry.failure) == entry.retried)
        #expect(!settings.policy.retries(afterAttempt: 3, failure: entry.failure))
    }
}
