import NIOCore
import PyBackground
import PyBackgroundProtocol

/// The stream of `LOG` and `FOLLOW` for tasks of a store several hosts share, read from the
/// database (each host copies the output of what it runs there as it grows, within half a second):
/// the same `OUT`, `ENDED` and `END` lines as ``OutputFollow``, for a task that runs or ran on any
/// host. `FOLLOW` polls (every 250 ms) each task's row and its new output, the row first: a task
/// seen ended has all its output in the database (its host writes the last of it before the end).
///
/// Lives on its connection's event loop; the store's answers are hopped onto it. A reader that
/// does not read stops the polling until it does.
final class SharedOutputFollow: ControlStream {
    private struct Followed {
        let id: TaskID
        var run: Int64?
        var positions: [StandardStream: Int] = [:]
        var ended = false
    }

    static let pollInterval = TimeAmount.milliseconds(250)

    private let persistence: any TaskPersistence
    private let streams: [StandardStream]
    private let following: Bool
    private let eventLoop: any EventLoop
    private var tasks: [Followed]
    private var output: StreamOutput?
    private var finished = false
    /// A round (look-ups and reads) is under way, or waits for the reader.
    private var busy = false
    private var waitingForReader = false
    private var timer: Scheduled<Void>?

    init(_ ids: [TaskID], streams: OutputSelection, following: Bool, persistence: any TaskPersistence, eventLoop: any EventLoop) {
        self.persistence = persistence
        self.streams = streams.streams
        self.following = following
        self.eventLoop = eventLoop
        // A stream not asked for is never read: its position is past any end.
        let skipped = Dictionary(uniqueKeysWithValues: StandardStream.allCases.filter { !streams.streams.contains($0) }.map { ($0, Int(Int32.max) << 16) })
        self.tasks = ids.map { Followed(id: $0, positions: skipped) }
    }

    var endsWithInput: Bool { false }

    func start(_ output: StreamOutput) {
        self.output = output
        round()
    }

    func writable() {
        guard waitingForReader else { return }
        waitingForReader = false
        round()
    }

    func stop(reason: String?) {
        guard !finished else { return }
        finished = true
        timer?.cancel()
        if let reason { output?.end(ProtocolJSON.encode(["reason": reason])) }
    }

    /// One pass over the tasks not yet ended; then END, or the next pass after the interval.
    private func round() {
        guard !finished, !busy, let output else { return }
        guard output.isWritable else {
            waitingForReader = true
            return
        }
        guard let index = tasks.firstIndex(where: { !$0.ended }) else {
            finished = true
            output.end()
            return
        }
        busy = true
        poll(from: index)
    }

    /// Reads the task at `index` (its row when following, then its output), writes what came,
    /// and goes on with the next task not ended; after the last, waits for the next round.
    private func poll(from index: Int) {
        let loop = NIOLoopBound(self, eventLoop: eventLoop)
        let id = tasks[index].id
        let read: @Sendable (FuturePayload?) -> Void = { [persistence, eventLoop] row in
            let positions = loop.value.tasks[index].positions
            persistence.sharedOutput(id, from: positions) { result in
                eventLoop.execute { loop.value.received(result, row: row, at: index) }
            }
        }
        guard following else { return read(nil) }
        persistence.lookUp(id.description) { [eventLoop] found in
            eventLoop.execute {
                switch found {
                case .success(let row?): read(row)
                case .success(nil): loop.value.fail("task \(id) is no longer in the shared store (removed)")
                case .failure(let error): loop.value.fail(error.message)
                }
            }
        }
    }

    private func received(_ result: Result<SharedOutput, ProtocolError>, row: FuturePayload?, at index: Int) {
        guard !finished, let output else { return }
        let shared: SharedOutput
        switch result {
        case .success(let found): shared = found
        case .failure(let error): return fail(error.message)
        }
        let ended = row.map { FutureState(rawValue: $0.state)?.isDone ?? true } ?? true
        write(shared, at: index, ended: ended, to: output)
        if ended {
            if following, let row { output.write(.ended(ProtocolJSON.encode(row))) }
            tasks[index].ended = true
        }
        if let next = tasks.indices.first(where: { $0 > index && !tasks[$0].ended }) {
            return poll(from: next)
        }
        busy = false
        if tasks.allSatisfy(\.ended) {
            round()
        } else {
            let loop = NIOLoopBound(self, eventLoop: eventLoop)
            timer = eventLoop.scheduleTask(in: Self.pollInterval) { loop.value.round() }
        }
    }

    /// Writes the pieces past the reader's position: a gap is a middle not kept (`dropped`), an
    /// overlap is skipped, and at the live end a character half written waits for its rest.
    private func write(_ shared: SharedOutput, at index: Int, ended: Bool, to output: StreamOutput) {
        // A later run's output replaces an earlier one's: it is read from its start.
        if let run = shared.run, run != tasks[index].run {
            if tasks[index].run != nil { tasks[index].positions = tasks[index].positions.filter { !streams.contains($0.key) } }
            tasks[index].run = run
        }
        let id = tasks[index].id.description
        for stream in streams {
            var position = tasks[index].positions[stream, default: 0]
            let unread = shared.unread(stream, from: position)
            for (offset, piece) in unread.enumerated() {
                switch piece {
                case .dropped(let count):
                    output.write(.output(ProtocolJSON.encode(OutputChunkPayload(id: id, stream: stream, dropped: count))))
                    position += count
                case .bytes(var bytes):
                    if !ended && offset == unread.count - 1 { bytes.removeLast(CommandOutput.incompleteCharacterLength(bytes)) }
                    guard !bytes.isEmpty else { continue }
                    output.write(.output(ProtocolJSON.encode(OutputChunkPayload(id: id, stream: stream, bytes: bytes))))
                    position += bytes.count
                case .none: break
                }
            }
            tasks[index].positions[stream] = position
        }
    }

    private func fail(_ reason: String) {
        busy = false
        stop(reason: reason)
    }
}
