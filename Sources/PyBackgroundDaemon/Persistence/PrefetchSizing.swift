/// How many tasks a host claims beyond its free workers: about `horizon` of its recent
/// throughput, at most `maximum`. Short tasks are claimed by the hundred (one claim's round trip
/// serves many), long ones hardly ahead at all, so that one host does not hold what idle hosts
/// could run.
struct PrefetchSizing {
    let maximum: Int
    /// How much work, at the recent rate, a host holds beyond its workers.
    var horizon: Duration = .milliseconds(100)
    private var endsPerSecond = 0.0
    private var last: (count: Int, at: ContinuousClock.Instant)?

    init(maximum: Int) {
        self.maximum = maximum
    }

    /// The prefetch now, given how many runs have ended here so far.
    mutating func prefetch(ended count: Int, at now: ContinuousClock.Instant) -> Int {
        if let last {
            let elapsed = now - last.at
            if elapsed >= .milliseconds(10) {
                let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
                // Smoothed, and forgetting: an idle second halves it and more.
                endsPerSecond = 0.5 * endsPerSecond + 0.5 * Double(count - last.count) / seconds
                self.last = (count, now)
            }
        } else {
            last = (count, now)
        }
        let horizonSeconds = Double(horizon.components.seconds) + Double(horizon.components.attoseconds) / 1e18
        return min(maximum, Int(endsPerSecond * horizonSeconds))
    }
}
