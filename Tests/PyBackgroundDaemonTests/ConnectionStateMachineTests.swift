import PyBackgroundProtocol
import PyBackgroundTesting
import Testing

@testable import PyBackgroundDaemon

/// The connection's ordering rules, driven without sockets: each step is an event, and what the
/// machine asks for afterwards is compared with what the rules say.
@Suite("Connection state machine")
struct ConnectionStateMachineTests {
    typealias Machine = ConnectionStateMachine
    typealias Action = ConnectionStateMachine.Action

    static let tooLong = Response.error(.lineTooLong, "too long")
    static let idle = Response.error(.idleTimeout, "idle")
    static let submit = Request.submit(task: "noop", arguments: [])
    static let ok1 = Response.ok("{\"n\":1}")
    static let ok2 = Response.ok("{\"n\":2}")
    static let ok3 = Response.ok("{\"n\":3}")

    /// One step of a scenario.
    enum Step: CustomStringConvertible {
        case line(Machine.Line)
        case evaluated(Machine.Evaluation)
        case later(Response)
        /// A durable reply, by the order its request was evaluated in (0: the first durable one).
        case durable(Int, Response)
        case writable(Bool)
        case inputClosed
        case shutdown
        case idle
        case streamEnded
        /// A `.later` evaluation's reply turned out a stream (LOG of another host's task).
        case laterStream

        var description: String {
            switch self {
            case .line(let line): "line \(line)"
            case .evaluated(let evaluation): "evaluated \(evaluation)"
            case .later(let response): "later reply \(response.line)"
            case .durable(let index, let response): "durable reply #\(index) \(response.line)"
            case .writable(let writable): "writable \(writable)"
            case .inputClosed: "input closed"
            case .shutdown: "shutdown"
            case .idle: "idle timeout"
            case .streamEnded: "stream ended"
            case .laterStream: "later reply is a stream"
            }
        }
    }

    /// Runs the steps; after each, collects the actions the machine asks for.
    static func run(_ steps: [Step]) -> [[Action]] {
        var machine = Machine(tooLongReply: tooLong, idleReply: idle)
        var durablePositions: [Int] = []
        var result: [[Action]] = []
        for step in steps {
            switch step {
            case .line(let line): machine.lineReceived(line)
            case .evaluated(let evaluation):
                if evaluation == .durable { durablePositions.append(machine.owedPosition) }
                machine.evaluated(evaluation)
            case .later(let response): machine.laterReplyReady(response)
            case .durable(let index, let response): machine.durableReplyReady(at: durablePositions[index], response)
            case .writable(let writable): machine.writabilityChanged(writable)
            case .inputClosed: machine.inputClosed()
            case .shutdown: machine.closeWhenRepliesWritten()
            case .idle: _ = machine.idleTimeout()
            case .streamEnded: machine.streamEnded()
            case .laterStream: machine.laterStreamStarted()
            }
            var actions: [Action] = []
            while let action = machine.nextAction() {
                actions.append(action)
                if case .evaluate = action { break }  // the next step reports the evaluation
            }
            result.append(actions)
        }
        return result
    }

    struct Scenario: CustomTestStringConvertible, Sendable {
        let name: String
        let steps: [Step]
        let expected: [[Action]]
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(
            name: "a request is evaluated and its reply written at once",
            steps: [.line(.request(.ping)), .evaluated(.now(ok1))],
            expected: [[.evaluate(.ping)], [.write(ok1)]]),
        Scenario(
            name: "a bad line is answered in its turn without evaluation",
            steps: [.line(.invalid(.error(.invalidUTF8, "x")))],
            expected: [[.write(.error(.invalidUTF8, "x"))]]),
        Scenario(
            name: "lines read while a reply is awaited are held, then evaluated in order",
            steps: [
                .line(.request(.wait(id: "a", timeout: nil))), .evaluated(.later),
                .line(.request(.ping)), .later(ok1), .evaluated(.now(ok2)),
            ],
            expected: [[.evaluate(.wait(id: "a", timeout: nil))], [], [], [.write(ok1), .evaluate(.ping)], [.write(ok2)]]),
        Scenario(
            name: "SUBMITs waiting for the store are evaluated back to back; replies keep request order",
            steps: [
                .line(.request(submit)), .evaluated(.durable), .line(.request(submit)), .evaluated(.durable),
                .durable(1, ok2), .durable(0, ok1),
            ],
            expected: [[.evaluate(submit)], [], [.evaluate(submit)], [], [], [.write(ok1), .write(ok2)]]),
        Scenario(
            name: "another request after durable SUBMITs is parked until their replies are in",
            steps: [
                .line(.request(submit)), .evaluated(.durable), .line(.request(.status)), .durable(0, ok1),
                .evaluated(.now(ok2)),
            ],
            expected: [[.evaluate(submit)], [], [], [.write(ok1), .evaluate(.status)], [.write(ok2)]]),
        Scenario(
            name: "an immediate reply behind owed durable ones waits its turn",
            steps: [.line(.request(submit)), .evaluated(.durable), .line(.invalid(ok2)), .durable(0, ok1)],
            expected: [[.evaluate(submit)], [], [], [.write(ok1), .write(ok2)]]),
        Scenario(
            name: "while the client reads nothing, lines are held; they resume once it is writable",
            steps: [.writable(false), .line(.request(.ping)), .writable(true), .evaluated(.now(ok1))],
            expected: [[], [], [.evaluate(.ping)], [.write(ok1)]]),
        Scenario(
            name: "a line over the limit is answered behind owed replies, then the connection closes",
            steps: [.line(.request(submit)), .evaluated(.durable), .line(.tooLong), .line(.request(.ping)), .durable(0, ok1)],
            expected: [[.evaluate(submit)], [], [], [], [.write(ok1), .write(tooLong), .closeAfterLastReply]]),
        Scenario(
            name: "a line over the limit behind a held line is answered after it",
            steps: [
                .line(.request(.wait(id: "a", timeout: nil))), .evaluated(.later), .line(.request(.ping)),
                .line(.tooLong), .later(ok1), .evaluated(.now(ok2)),
            ],
            expected: [
                [.evaluate(.wait(id: "a", timeout: nil))], [], [], [], [.write(ok1), .evaluate(.ping)],
                [.write(ok2), .write(tooLong), .closeAfterLastReply],
            ]),
        Scenario(
            name: "at the client's end the owed replies are written, then the connection closes",
            steps: [.line(.request(submit)), .evaluated(.durable), .inputClosed, .durable(0, ok1)],
            expected: [[.evaluate(submit)], [], [], [.write(ok1), .closeWhenWritten]]),
        Scenario(
            name: "the daemon's shutdown closes an idle connection at once",
            steps: [.shutdown],
            expected: [[.closeWhenWritten]]),
        Scenario(
            name: "an idle connection is told why, then closed",
            steps: [.idle],
            expected: [[.write(idle), .closeWhenWritten]]),
        Scenario(
            name: "an idle connection that does not read its replies is closed without a word",
            steps: [.writable(false), .idle],
            expected: [[], [.close]]),
        Scenario(
            name: "the idle timer does not close a connection waiting for a reply",
            steps: [.line(.request(.wait(id: "a", timeout: nil))), .evaluated(.later), .idle, .later(ok1)],
            expected: [[.evaluate(.wait(id: "a", timeout: nil))], [], [], [.write(ok1)]]),
        Scenario(
            name: "the end of input after the too-long reply closes at once",
            steps: [.line(.tooLong), .inputClosed],
            expected: [[.write(tooLong), .closeAfterLastReply], [.close]]),
        Scenario(
            name: "the owed durable replies are written even after a line over the limit came first",
            steps: [
                .line(.request(submit)), .evaluated(.durable), .line(.request(submit)), .evaluated(.durable),
                .line(.tooLong), .durable(0, ok1), .durable(1, ok3),
            ],
            expected: [[.evaluate(submit)], [], [.evaluate(submit)], [], [], [.write(ok1)], [.write(ok3), .write(tooLong), .closeAfterLastReply]]),
    ]

    @Test("each ordering rule, step by step", arguments: scenarios)
    func rule(_ scenario: Scenario) {
        let actions = Self.run(scenario.steps)
        #expect(actions == scenario.expected, "\(scenario.name): \(zip(scenario.steps, actions).map { "\($0) → \($1)" })")
    }

    static let events = Request.events(EventFilter())

    static let streamScenarios: [Scenario] = [
        Scenario(
            name: "requests behind a stream are held until it ends, then evaluated in order",
            steps: [
                .line(.request(events)), .evaluated(.stream), .line(.request(.ping)), .streamEnded, .evaluated(.now(ok1)),
            ],
            expected: [[.evaluate(events)], [], [], [.evaluate(.ping)], [.write(ok1)]]),
        Scenario(
            name: "the client's end during a stream closes the connection once the stream ends",
            steps: [.line(.request(events)), .evaluated(.stream), .inputClosed, .streamEnded],
            expected: [[.evaluate(events)], [], [], [.closeWhenWritten]]),
        Scenario(
            name: "a stream that starts later holds the requests behind it until it ends, not until it starts",
            steps: [
                .line(.request(.log(id: "a", streams: .all))), .evaluated(.later), .line(.request(.ping)), .laterStream,
                .line(.request(.ping)), .streamEnded, .evaluated(.now(ok1)), .evaluated(.now(ok2)),
            ],
            expected: [[.evaluate(.log(id: "a", streams: .all))], [], [], [], [], [.evaluate(.ping)], [.write(ok1), .evaluate(.ping)], [.write(ok2)]]),
        Scenario(
            name: "the idle timer does not close a streaming connection",
            steps: [.line(.request(events)), .evaluated(.stream), .idle],
            expected: [[.evaluate(events)], [], []]),
    ]

    @Test("streaming replies: each rule, step by step", arguments: streamScenarios)
    func streamRule(_ scenario: Scenario) {
        let actions = Self.run(scenario.steps)
        #expect(actions == scenario.expected, "\(scenario.name): \(zip(scenario.steps, actions).map { "\($0) → \($1)" })")
    }

    @Test("while a stream runs, reads go on (the client's end is seen) until 64 lines are held")
    func readsWhileStreaming() {
        var machine = Machine(tooLongReply: Self.tooLong, idleReply: Self.idle)
        machine.lineReceived(.request(Self.events))
        #expect(machine.nextAction() == .evaluate(Self.events))
        machine.evaluated(.stream)
        for _ in 0..<Machine.maxHeldWhileStreaming {
            let wanted = machine.readWanted()
            #expect(wanted)
            machine.lineReceived(.request(.ping))
        }
        let past = machine.readWanted()
        #expect(past == false)
        machine.streamEnded()
        #expect(machine.nextAction() == .evaluate(.ping))
    }

    @Test("a read the channel asks for while a reply is awaited is passed on once the reply is in")
    func readAfterAwait() {
        var machine = Machine(tooLongReply: Self.tooLong, idleReply: Self.idle)
        let first = machine.readWanted()
        #expect(first)
        machine.lineReceived(.request(.wait(id: "a", timeout: nil)))
        #expect(machine.nextAction() == .evaluate(.wait(id: "a", timeout: nil)))
        machine.evaluated(.later)
        let whileAwaiting = machine.readWanted()
        #expect(whileAwaiting == false)
        #expect(machine.nextAction() == nil)
        machine.laterReplyReady(Self.ok1)
        #expect(machine.nextAction() == .write(Self.ok1))
        #expect(machine.nextAction() == .read)
        #expect(machine.nextAction() == nil)
    }
}
