import Foundation
import Testing

@testable import PyBackgroundState

/// The umask is the whole process's: overlapping narrowings must neither loosen it while one is
/// open nor leave it narrowed once all have ended. (A save and restore per caller left it
/// narrowed for good when two overlapped; see ``ProcessUmask``.)
@Suite("the process's umask, narrowed by overlapping callers")
struct ProcessUmaskTests {
    /// A umask of the test's own, in place of the process's.
    final class FakeUmask {
        var value: mode_t
        init(_ value: mode_t) { self.value = value }
        func set(_ new: mode_t) -> mode_t {
            defer { value = new }
            return value
        }
    }

    @Test(
        "two overlapping narrowings: the narrower mask holds while either is open, and the first umask comes back after the last, whichever ends first"
    )
    func overlappingNarrowingsRestoreTheOriginal() {
        let umask = FakeUmask(0o022)
        var ledger = UmaskLedger()
        ledger.narrow(to: 0o600, setUmask: umask.set)
        #expect(umask.value == 0o177)
        ledger.narrow(to: 0o640, setUmask: umask.set)
        #expect(umask.value == 0o177, "the union of 0o177 and 0o137")
        ledger.widen(setUmask: umask.set)  // the first ends before the second
        #expect(umask.value == 0o177, "still narrowed while one is open")
        ledger.widen(setUmask: umask.set)
        #expect(umask.value == 0o022)
        // Again from there: nothing left over from the first round.
        ledger.narrow(to: 0o640, setUmask: umask.set)
        #expect(umask.value == 0o137)
        ledger.widen(setUmask: umask.set)
        #expect(umask.value == 0o022)
    }

    /// Read from /proc, not with umask(2), which can only read it by changing it.
    static var current: mode_t? {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        return status.split(separator: "\n").first { $0.hasPrefix("Umask:") }
            .flatMap { mode_t($0.dropFirst("Umask:".count).trimmingCharacters(in: .whitespaces), radix: 8) }
    }

    // Other tests narrow the process's umask meanwhile (every state store they open): only what
    // holds whatever they do is checked. The mode keeps the owner's bits, so they are not hindered.
    @Test("while the process's umask is narrowed to a mode, new files are no more open than it")
    func processUmaskIsNarrowedInsideTheBody() throws {
        let inside = try #require(ProcessUmask.narrowed(to: 0o750) { Self.current })
        #expect(inside & 0o027 == 0o027)
    }
}
