import PyBackgroundProtocol
import Testing

@Suite("Request values stay small")
struct RequestSizeTests {
    /// Requests are copied through the connection's state machine, a SUBMIT at a time: a large case
    /// (a schedule's definition, a timestamp) inline made every one of them as large, and that
    /// cost 4% of the event loop's time in memmove (perf, pipelined SUBMIT in memory).
    @Test("a request is at most five words, whatever its largest case holds")
    func requestIsSmall() {
        #expect(MemoryLayout<Request>.size <= 40, "\(MemoryLayout<Request>.size) bytes")
    }
}
