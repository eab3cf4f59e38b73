import Testing

@testable import PyBackground

@Suite("Backoff between attempts")
struct BackoffTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let backoff: Backoff
        let attempt: Int
        /// The delay without jitter; jitter may take up to `backoff.jitter` of it off, never add.
        let full: Double
        var testDescription: String { "\(backoff) after attempt \(attempt): \(full) s" }
    }

    static let cases: [Case] = [
        Case(backoff: .exponential(base: .seconds(1), maxDelay: .seconds(60)), attempt: 1, full: 1),
        Case(backoff: .exponential(base: .seconds(1), maxDelay: .seconds(60)), attempt: 2, full: 2),
        Case(backoff: .exponential(base: .seconds(1), maxDelay: .seconds(60)), attempt: 6, full: 32),
        Case(backoff: .exponential(base: .seconds(1), maxDelay: .seconds(60)), attempt: 7, full: 60),
        Case(backoff: .exponential(base: .seconds(1), maxDelay: .seconds(60)), attempt: 1_000, full: 60),
        Case(backoff: .exponential(base: .milliseconds(250), maxDelay: .seconds(10), jitter: 0.5), attempt: 3, full: 1),
        Case(backoff: .exponential(base: .seconds(2), maxDelay: .seconds(300), jitter: 0.1), attempt: 9, full: 300),
        Case(backoff: .fixed(.seconds(5)), attempt: 1, full: 5),
        Case(backoff: .fixed(.seconds(5), jitter: 1), attempt: 40, full: 5),
        Case(backoff: .exponential(base: .zero, maxDelay: .seconds(1)), attempt: 4, full: 0),
    ]

    @Test("the delay doubles from base to the cap; jitter only shortens it, by at most its fraction", arguments: cases)
    func delays(_ entry: Case) {
        let longest = entry.backoff.delay(afterAttempt: entry.attempt, random: 0).secondsAsDouble
        #expect(abs(longest - entry.full) < 1e-9)
        let shortestBound = entry.full * (1 - entry.backoff.jitter)
        for random in [0.0, 0.25, 0.5, 0.999_999] {
            let delay = entry.backoff.delay(afterAttempt: entry.attempt, random: random).secondsAsDouble
            #expect(delay <= entry.full + 1e-9 && delay >= shortestBound - 1e-9)
        }
        let last = entry.backoff.delay(afterAttempt: entry.attempt, random: 0.999_999).secondsAsDouble
        #expect(abs(last - entry.full * (1 - entry.backoff.jitter * 0.999_999)) < 1e-6)
    }

    @Test("out-of-range settings are clamped: jitter to 0…1, the cap to at least the base, attempts to at least 1")
    func clamping() {
        let backoff = Backoff.exponential(base: .seconds(10), maxDelay: .seconds(1), jitter: 7)
        #expect(backoff.maxDelay == .seconds(10) && backoff.jitter == 1)
        #expect(Backoff.exponential(base: .seconds(1), maxDelay: .seconds(2), jitter: .nan).jitter == 0)
        #expect(RetryPolicy(maxAttempts: 0).maxAttempts == 1)
        #expect(!RetryPolicy(maxAttempts: 1).retries(afterAttempt: 1, failure: Failure(reason: "x")))
        #expect(RetryPolicy(maxAttempts: 2).retries(afterAttempt: 1, failure: Failure(reason: "x")))
        #expect(!RetryPolicy(maxAttempts: 2, shouldRetry: { !($0 is Failure) }).retries(afterAttempt: 1, failure: Failure(reason: "x")))
    }
}
