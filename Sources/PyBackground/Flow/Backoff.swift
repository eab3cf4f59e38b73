/// How long a task waits before its next attempt: a pure function of the attempt that failed and
/// one uniform random number, so that a table of cases pins it down.
///
/// ```swift
/// let backoff = Backoff.exponential(base: .seconds(1), maxDelay: .seconds(60), jitter: 0.1)
/// backoff.delay(afterAttempt: 3, random: 0)     // 4 s: 1, 2, 4, … capped at 60
/// backoff.delay(afterAttempt: 3, random: 0.999) // just over 3.6 s: jitter takes up to 10% off
/// ```
public struct Backoff: Hashable, Sendable, CustomStringConvertible {
    /// How the delay grows from one attempt to the next.
    public enum Kind: String, Hashable, Sendable, CaseIterable {
        /// `base`, `2 × base`, `4 × base`, … up to `maxDelay`.
        case exponential
        /// `base` every time.
        case fixed
    }

    public var kind: Kind
    /// The delay after the first failed attempt.
    public var base: Duration
    /// No delay is longer than this.
    public var maxDelay: Duration
    /// The fraction (0 to 1) of a delay that may be taken off at random, so that tasks that failed
    /// together do not all come back at the same instant. Jitter only shortens: a delay never
    /// exceeds `maxDelay`.
    public var jitter: Double

    /// A backoff; `jitter` is clamped to 0…1 and `maxDelay` raised to at least `base`.
    public init(_ kind: Kind, base: Duration, maxDelay: Duration, jitter: Double = 0) {
        self.kind = kind
        self.base = max(.zero, base)
        self.maxDelay = max(self.base, maxDelay)
        self.jitter = jitter.isFinite ? min(1, max(0, jitter)) : 0
    }

    /// Doubling from `base`, capped at `maxDelay`.
    public static func exponential(base: Duration, maxDelay: Duration, jitter: Double = 0) -> Backoff {
        Backoff(.exponential, base: base, maxDelay: maxDelay, jitter: jitter)
    }

    /// The same delay every time.
    public static func fixed(_ delay: Duration, jitter: Double = 0) -> Backoff {
        Backoff(.fixed, base: delay, maxDelay: delay, jitter: jitter)
    }

    /// 1 s, doubling, at most 5 minutes, 10% jitter: what a retry policy uses unless told otherwise.
    public static let `default` = Backoff.exponential(base: .seconds(1), maxDelay: .seconds(300), jitter: 0.1)

    /// The wait after attempt `attempt` (1 for the first) failed; `random` is uniform in 0..<1.
    public func delay(afterAttempt attempt: Int, random: Double) -> Duration {
        let full: Duration
        switch kind {
        case .fixed:
            full = base
        case .exponential:
            // 2^62 would overflow Duration's arithmetic long before any cap is that large.
            let doublings = min(max(0, attempt - 1), 62)
            let cap = maxDelay.secondsAsDouble
            full = .seconds(min(cap, base.secondsAsDouble * Double(1 << doublings)))
        }
        let capped = min(full, maxDelay)
        guard jitter > 0 else { return capped }
        let unit = random.isFinite ? min(max(random, 0), 1) : 0
        return capped * (1 - jitter * unit)
    }

    public var description: String {
        let jitterText = jitter > 0 ? ", jitter \(jitter)" : ""
        switch kind {
        case .fixed: return "fixed \(base.secondsAsDouble) s\(jitterText)"
        case .exponential: return "exponential from \(base.secondsAsDouble) s to \(maxDelay.secondsAsDouble) s\(jitterText)"
        }
    }
}
