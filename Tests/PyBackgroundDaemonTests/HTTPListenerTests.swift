import Foundation
import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

@testable import PyBackgroundDaemon

/// The HTTP listener of the real pybgd: Prometheus metrics checked against a known workload with
/// the Prometheus client's own text parser, the token, and the settings that refuse to start.
@Suite("Metrics and the HTTP listener with the real daemon")
struct HTTPListenerTests {
    /// Parses an exposition with prometheus_client's parser; one line per sample:
    /// `name{label="v",…} value`, labels sorted, so that tests can look samples up.
    static func parse(_ text: String) throws -> [String: Double] {
        guard let python = ProcessInfo.processInfo.environment["PYBGD_PROMETHEUS_PARSER"] else {
            throw HarnessError("PYBGD_PROMETHEUS_PARSER is not set: scripts/test makes a venv with prometheus-client and sets it")
        }
        let script = """
            import sys, json
            from prometheus_client.parser import text_string_to_metric_families
            out = {}
            for family in text_string_to_metric_families(sys.stdin.read()):
                for s in family.samples:
                    labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                    out[s.name + "{" + labels + "}"] = s.value
            print(json.dumps(out))
            """
        // A parser that exits before reading all of its input must fail this test, not raise
        // SIGPIPE in the whole test process.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = errors
        try process.run()
        input.fileHandleForWriting.write(Data(text.utf8))
        try input.fileHandleForWriting.close()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        let problems = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw HarnessError("the Prometheus parser refused the exposition: \(String(decoding: problems, as: UTF8.self))")
        }
        return try JSONDecoder().decode([String: Double].self, from: data)
    }

    @Test("metrics scraped after a known workload count it exactly: submissions, outcomes, retries, durations, gauges, commits, lateness")
    func metricsCountTheWorkload() throws {
        let port = try HTTPProbe.freePort()
        let daemon = try DaemonHarness(
            config: """
                http: {listen: "127.0.0.1:\(port)"}
                scheduler: {max_workers: 2}
                tasks:
                  - {name: fail, argv: ["false"]}
                schedules:
                  - {name: tick, every: 1s, task: noop}
                """)
        _ = try daemon.ok(.schedule(.pause(name: "tick")), as: SchedulePayload.self)
        for _ in 0..<5 { _ = try daemon.ok(.wait(id: try daemon.submit("noop"), timeout: 30), as: FuturePayload.self) }
        for _ in 0..<3 { _ = try daemon.ok(.wait(id: try daemon.submit("fail"), timeout: 30), as: FuturePayload.self) }
        let retried = try daemon.ok(.submit(task: "fail", arguments: [], options: SubmitOptions(attempts: 2)), as: SubmitPayload.self)
        #expect(try daemon.ok(.wait(id: retried.id, timeout: 60), as: FuturePayload.self).attempt == 2)
        let later = try daemon.ok(.submit(task: "noop", arguments: [], options: SubmitOptions(timing: .after(.seconds(3600)))), as: SubmitPayload.self)
        _ = try daemon.send(.cancel(id: later.id))

        let (status, text) = try HTTPProbe.get("http://127.0.0.1:\(port)/metrics")
        #expect(status == 200)
        let samples = try Self.parse(text)
        let noop = #"queue="default",task="noop""#
        let fail = #"queue="default",task="fail""#
        #expect(samples["pybgd_tasks_submitted_total{\(noop)}"] == 6)
        #expect(samples["pybgd_tasks_submitted_total{\(fail)}"] == 4)
        #expect(samples[#"pybgd_tasks_completed_total{outcome="finished",queue="default",task="noop"}"#] == 5)
        #expect(samples[#"pybgd_tasks_completed_total{outcome="cancelled",queue="default",task="noop"}"#] == 1)
        #expect(samples[#"pybgd_tasks_completed_total{outcome="failed",queue="default",task="fail"}"#] == 4)
        #expect(samples["pybgd_task_retries_total{\(fail)}"] == 1)
        #expect(samples["pybgd_task_duration_seconds_count{\(noop)}"] == 5)
        #expect(samples["pybgd_task_duration_seconds_count{\(fail)}"] == 4)
        #expect(samples[#"pybgd_tasks{state="pending"}"#] == 0)
        #expect(samples[#"pybgd_tasks{state="running"}"#] == 0)
        #expect(samples["pybgd_workers{}"] == 2)
        #expect((samples["pybgd_state_commit_seconds_count{}"] ?? 0) >= 10)

        // A schedule's firings: their lateness is measured.
        _ = try daemon.ok(.schedule(.resume(name: "tick")), as: SchedulePayload.self)
        #expect(
            eventually {
                let samples = (try? Self.parse(HTTPProbe.get("http://127.0.0.1:\(port)/metrics").body)) ?? [:]
                return (samples[#"pybgd_schedule_lateness_seconds_count{schedule="tick"}"#] ?? 0) >= 2
            })
    }

    @Test("with a token, a request without it gets 401 and one with it (header or ?token=) is served")
    func bearerToken() throws {
        let port = try HTTPProbe.freePort()
        let token = "0123456789abcdef0123"
        let daemon = try DaemonHarness(config: "http: {listen: \"0.0.0.0:\(port)\", allow_remote: true, token: \(token)}", arguments: ["--state", "memory"])
        #expect(try HTTPProbe.get("http://127.0.0.1:\(port)/metrics").status == 401)
        #expect(try HTTPProbe.get("http://127.0.0.1:\(port)/metrics", headers: ["Authorization": "Bearer wrong-token-0123456"]).status == 401)
        #expect(try HTTPProbe.get("http://127.0.0.1:\(port)/metrics", headers: ["Authorization": "Bearer \(token)"]).status == 200)
        #expect(try HTTPProbe.get("http://127.0.0.1:\(port)/?token=\(token)").body.contains("<title>pybgd</title>"))
        _ = daemon
    }

    @Test(
        "http settings that would expose the daemon, or cannot be used, are refused with what is accepted",
        arguments: [
            ("http: {listen: \"0.0.0.0:9464\"}", "needs http.allow_remote: true and a token"),
            ("http: {listen: \"0.0.0.0:9464\", allow_remote: true}", "needs a bearer token"),
            ("http: {listen: \"9464\"}", "must be HOST:PORT"),
            ("http: {listen: \"127.0.0.1:99999\"}", "must be HOST:PORT"),
            ("http: {listen: \"127.0.0.1:9464\", token: short}", "at least 16 printable"),
        ])
    func refusedSettings(config: String, expected: String) {
        #expect {
            try ConfigurationLoader.parse(config)
        } throws: { error in
            "\(error)".contains(expected)
        }
    }

    @Test("a port already taken stops the start with a clear error, and the control socket is not left behind")
    func portTaken() throws {
        let port = try HTTPProbe.freePort()
        let first = try DaemonHarness(config: "http: {listen: \"127.0.0.1:\(port)\"}", arguments: ["--state", "memory"])
        let second = try DaemonHarness(config: "http: {listen: \"127.0.0.1:\(port)\"}", arguments: ["--state", "memory"], waitForAnswer: false)
        #expect(second.waitForExit())
        #expect(second.process.terminationStatus != 0)
        #expect(second.log.contains("cannot serve HTTP on 127.0.0.1:\(port)"))
        #expect(!FileManager.default.fileExists(atPath: second.socketPath))
        _ = first
    }
}
