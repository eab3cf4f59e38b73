import Foundation
import PyBackground
import PyBackgroundPostgres
import PyBackgroundProtocol
import Testing

@testable import PyBackgroundDaemon

@Suite("A submission as the shared store keeps it, and back")
struct SharedTaskTests {
    static let registry = try! DaemonConfiguration().makeRegistry()

    static func submission(_ name: String, _ words: [String], optionWords: [String] = [], runAt: Date? = nil) throws -> Submission {
        let task = try #require(registry[name])
        let arguments = try BoundArguments.bind(words, to: task.parameters, task: name)
        let record = TaskRecord(
            id: .random(), name: name, args: arguments.positional, kwargs: arguments.keywordArguments,
            submittedAt: Date(timeIntervalSince1970: 1_795_824_000.25), runAt: runAt)
        return Submission(record: record, task: task, arguments: arguments, words: words, optionWords: optionWords)
    }

    static func claim(_ row: PostgresTaskQueue.NewTask) -> PostgresTaskQueue.Claim {
        PostgresTaskQueue.Claim(id: row.id, fence: 1, attempt: 1, name: row.name, record: row.record)
    }

    @Test("a task id and its uuid are the same 128 bits, both ways", arguments: 0..<50)
    func idRoundTrip(_: Int) {
        let id = TaskID.random()
        let uuid = UUID(id)
        #expect(TaskID(uuid) == id)
        #expect(uuid.uuidString.lowercased().replacingOccurrences(of: "-", with: "") == id.description)
    }

    @Test("a claimed row binds back to the submission: id, name, words, arguments, submission time, options")
    func roundTrip() throws {
        let original = try Self.submission("sleep", ["0.5"], optionWords: ["queue=default", "priority=3"])
        let row = SharedTask.row(original)
        #expect(row.name == "sleep" && row.retrySafe == original.task.retryIfInterrupted && row.maxAttempts == 1)
        let back = try SharedTask.submission(Self.claim(row), registry: Self.registry).get()
        #expect(back.record.id == original.record.id && back.record.name == "sleep")
        #expect(back.words == ["0.5"] && back.optionWords == ["queue=default", "priority=3"])
        #expect(back.record.submittedAt == original.record.submittedAt)
        #expect(back.record.options.priority == 3)
        #expect(back.record.args.count == original.record.args.count)
    }

    @Test("a submission for later is inserted with its run time; claimed, it is due now")
    func runAt() throws {
        let later = Date(timeIntervalSince1970: 1_900_000_000)
        let row = SharedTask.row(try Self.submission("noop", [], runAt: later))
        #expect(row.runAt == later)
        #expect(try SharedTask.submission(Self.claim(row), registry: Self.registry).get().record.runAt == nil)
    }

    @Test("a claim this host cannot run ends with a reason naming what is wrong")
    func unrunnable() throws {
        var row = SharedTask.row(try Self.submission("sleep", ["1"]))
        row.name = "gone"
        #expect(throws: SharedTask.Unrunnable.self) { try SharedTask.submission(Self.claim(row), registry: Self.registry).get() }
        if case .failure(let error) = SharedTask.submission(Self.claim(row), registry: Self.registry) {
            #expect(error.failure.message.contains("no task named \"gone\" is registered on this host"))
        }
        var words = SharedTask.row(try Self.submission("sleep", ["1"]))
        words.record = #"{"words":["not-a-number"],"options":[],"submittedAt":0}"#
        if case .failure(let error) = SharedTask.submission(Self.claim(words), registry: Self.registry) {
            #expect(error.failure.code == .notRestartable && error.failure.message.contains("not run on this host"))
        } else {
            Issue.record("words that do not bind were accepted")
        }
        var garbage = words
        garbage.record = "[1]"
        if case .failure(let error) = SharedTask.submission(Self.claim(garbage), registry: Self.registry) {
            #expect(error.failure.message.contains("stored record"))
        } else {
            Issue.record("a record that does not decode was accepted")
        }
    }
}
