// Foundation, not only FoundationEssentials: named time zones (IANA, with their DST rules) come
// from ICU's tz data, which FoundationEssentials does not carry.
import Foundation

/// A ``CronExpression`` read in a time zone: the instants at which it fires.
///
/// Across daylight-saving changes it behaves as people expect of cron:
/// - a wall time that does not exist (the hour skipped in spring) fires once, at the first valid
///   moment after it (the end of the gap); several such times fire once together;
/// - a wall time that occurs twice (the hour repeated in autumn) fires once, the first time.
///
/// ```swift
/// let nightly = CronSchedule(try CronExpression("30 2 * * *"), timeZone: TimeZone(identifier: "Europe/Berlin")!)
/// nightly.nextFire(after: Date())    // 02:30 Berlin time; 03:00 on the day the clocks skip 02:00–03:00
/// ```
public struct CronSchedule: Hashable, Sendable, CustomStringConvertible {
    /// When it fires, in wall time.
    public let expression: CronExpression
    /// Whose wall time.
    public let timeZone: TimeZone

    /// The expression in `timeZone` (by default the system's).
    public init(_ expression: CronExpression, timeZone: TimeZone = .current) {
        self.expression = expression
        self.timeZone = timeZone
    }

    public var description: String { "cron \"\(expression)\" in \(timeZone.identifier)" }

    /// The first firing strictly after `date` (firings fall on whole seconds); nil if the
    /// expression never matches again within 30 years.
    public func nextFire(after date: Date) -> Date? {
        let now = Int64(date.timeIntervalSince1970.rounded(.down))
        var seen = wall(at: now)
        // In the repeated hour after clocks go back, the wall times up to the change have fired already.
        if let (change, before, after) = backwardChange(before: now), now < change + Int64(before - after) {
            seen = max(seen, change + Int64(before) - 1)
        }
        for _ in 0..<10_000 {
            guard let next = expression.nextWallTime(after: CivilTime(wallSeconds: seen)) else { return nil }
            let wallTime = next.wallSeconds
            let instants = instants(atWall: wallTime)
            if let first = instants.first {
                if first > now { return Date(timeIntervalSince1970: Double(first)) }
            } else {
                let gapEnd = firstChange(after: wallTime - Int64(offset(at: wallTime + 50_400)), before: wallTime - Int64(offset(at: wallTime - 50_400)))
                if gapEnd > now { return Date(timeIntervalSince1970: Double(gapEnd)) }
            }
            seen = wallTime
        }
        return nil
    }

    private func offset(at instant: Int64) -> Int {
        timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant)))
    }

    private func wall(at instant: Int64) -> Int64 { instant + Int64(offset(at: instant)) }

    /// The instants whose wall time is `wallTime`: one, two (clocks went back), or none (a gap).
    private func instants(atWall wallTime: Int64) -> [Int64] {
        // Offsets lie within -12 h … +14 h, so an instant with this wall time lies within 14 h of it.
        let guess = offset(at: wallTime)
        let offsets: Set<Int> = [offset(at: wallTime - 50_400), offset(at: wallTime + 50_400), guess, offset(at: wallTime - Int64(guess))]
        return offsets.map { wallTime - Int64($0) }.filter { wall(at: $0) == wallTime }.sorted()
    }

    /// The first instant in (`start`, `end`] whose offset differs from `start`'s: where a change falls.
    private func firstChange(after start: Int64, before end: Int64) -> Int64 {
        let initial = offset(at: start)
        var (low, high) = (start, end)
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if offset(at: middle) == initial { low = middle } else { high = middle }
        }
        return high
    }

    /// A change to a smaller offset (clocks going back) within the 6 hours up to `instant`: when, and
    /// the offsets before and after it.
    private func backwardChange(before instant: Int64) -> (at: Int64, before: Int, after: Int)? {
        let now = offset(at: instant)
        let earlier = offset(at: instant - 21_600)
        guard earlier > now else { return nil }
        return (firstChange(after: instant - 21_600, before: instant), earlier, now)
    }
}
