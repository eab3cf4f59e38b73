import Foundation
import PyBackgroundClient
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

/// The dashboard in a real browser: the real pybgd serves it, headless Chromium loads it, tasks
/// are submitted with the real pybgctl, and the page's DOM must show them appear and change state
/// without a reload. A screenshot is kept in `.build/test-artifacts/dashboard.png`.
@Suite("The dashboard in headless Chromium")
struct DashboardBrowserTests {
    static let screenshot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent(".build/test-artifacts/dashboard.png")

    /// Polls an expression in the page until it is true.
    func until(_ browser: Chromium, _ page: String, _ expression: String, timeout: Duration = .seconds(30)) -> Bool {
        eventually(timeout: timeout) { ((try? browser.evaluate("Boolean(\(expression))", in: page)) as? Bool) == true }
    }

    @Test("tasks submitted with pybgctl appear on the page and change state live; queues, schedules and the chart show; 100,000 tasks stay paged")
    func liveDashboard() async throws {
        // Chromium beside the multi-host PostgreSQL tests was starved until it died: turns. (It
        // also died at times under the whole suite, its log saying nothing: pybgd-exec of another
        // test signalled a process group id Chromium had been given after the pids wrapped; fixed
        // there, see ProcessGroupTests. A death at its start on CI since, cause unknown, is why
        // Chromium.started tries again and names how it ended.)
        try await HeavyTest.alone { try showsTasksLive() }
    }

    private func showsTasksLive() throws {
        let port = try HTTPProbe.freePort()
        let directory = try TemporaryDirectory.make()
        defer { try? FileManager.default.removeItem(at: directory) }
        let gate = directory.appendingPathComponent("gate").path
        let daemon = try DaemonHarness(
            config: """
                http: {listen: "127.0.0.1:\(port)"}
                scheduler: {max_workers: 4, keep_finished: null, max_pending: 200000}
                queues:
                  io: {max_running: 1}
                tasks:
                  - name: hold
                    description: wait for a file, then say so
                    argv: ["sh", "-c", "while [ ! -e {path} ]; do sleep 0.02; done; echo released"]
                    parameters: [{name: path, type: string}]
                    queue: io
                  - {name: fail, argv: ["sh", "-c", "echo broken >&2; exit 2"]}
                schedules:
                  - {name: nightly, cron: "0 3 * * *", task: noop}
                """,
            arguments: ["--state", "memory"], directory: directory)
        // 100,000 tasks first (the page reads them when it opens): one page of them, and the count of all.
        let burst = 100_000
        #expect(try PipelinedBurst.send("SUBMIT noop", count: burst, to: daemon.socketPath) == 0)
        #expect(eventually(timeout: .seconds(300)) { (try? daemon.ok(.status, as: StatusPayload.self).finished) ?? 0 >= burst })
        let browser = try Chromium.started()
        let page = try browser.open("http://127.0.0.1:\(port)/")
        #expect(until(browser, page, "document.querySelector('#connection').textContent === 'live'"))
        #expect(until(browser, page, "document.querySelector('#page-info').textContent.endsWith(' of \(burst)')"))
        #expect(try browser.evaluate("document.querySelectorAll('#tasks tbody tr').length", in: page) as? Int == 50)
        _ = try browser.evaluate("document.querySelector('#older').click()", in: page)
        #expect(until(browser, page, "document.querySelector('#page-info').textContent.startsWith('51–100 of')"))
        _ = try browser.evaluate("document.querySelector('#newer').click()", in: page)
        #expect(until(browser, page, "document.querySelector('#page-info').textContent.startsWith('1–50 of')"))
        // Set once: still there at the end, so the page was never reloaded.
        _ = try browser.evaluate("window.loadedOnce = 1", in: page)

        let held = try PybgctlTests.pybgctl(["submit", "hold", gate], socket: daemon.socketPath)
        let id = held.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(held.status == 0 && id.count == 32)
        let row = #"document.querySelector('#tasks tr[data-id="\#(id)"]')"#
        #expect(until(browser, page, "\(row) && \(row).querySelector('.state').textContent === 'running'"))
        #expect(until(browser, page, #"document.querySelector('#running tr[data-id="\#(id)"]')"#))
        #expect(until(browser, page, #"document.querySelector('#queues tr[data-queue="io"]')"#))

        FileManager.default.createFile(atPath: gate, contents: nil)
        #expect(until(browser, page, "\(row).querySelector('.state').textContent === 'finished'"))
        #expect(until(browser, page, #"!document.querySelector('#running tr[data-id="\#(id)"]')"#))

        let failed = try PybgctlTests.pybgctl(["submit", "fail"], socket: daemon.socketPath).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let failedRow = #"document.querySelector('#tasks tr[data-id="\#(failed)"]')"#
        #expect(until(browser, page, "\(failedRow) && \(failedRow).querySelector('.state').textContent === 'failed'"))
        // The result column, once the tables were read again, says why.
        #expect(until(browser, page, "\(failedRow).querySelector('.result').textContent.includes('exit-status')"))
        #expect(until(browser, page, #"document.querySelector('#schedules tr[data-schedule="nightly"]')"#))
        #expect(until(browser, page, "document.querySelectorAll('#throughput svg rect').length > 0", timeout: .seconds(20)))
        #expect(try browser.evaluate("window.loadedOnce", in: page) as? Int == 1)
        try browser.screenshot(of: page, to: Self.screenshot)

    }
}
