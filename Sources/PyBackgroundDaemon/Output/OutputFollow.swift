import NIOCore
import PyBackground
import PyBackgroundProtocol
import Synchronization

/// The stream of `LOG` and `FOLLOW`: tasks' output read from ``TaskOutputs`` in pieces of at
/// most ``pieceBytes``, as `OUT` lines, while the channel takes them. A reader that does not
/// read only stops the reading: nothing is buffered for it, the output stays where it is kept.
///
/// `FOLLOW` goes on as output is written (each write wakes it), writes an `ENDED` line with the
/// future as each task ends once all its output is out, and `END` once all have. `LOG` writes
/// what is kept now, then `END`.
final class OutputFollow: ControlStream {
    /// The most bytes of one `OUT` line (before its JSON encoding).
    static let pieceBytes = 64 * 1024

    private struct Followed {
        let future: Future
        var positions: [StandardStream: Int] = [:]
        var endSent = false
        var watchToken: Int?
    }

    private let outputs: TaskOutputs
    private let streams: [StandardStream]
    private let following: Bool
    private var tasks: [Followed]
    private var output: StreamOutput?
    private var finished = false
    private let waker: Waker

    /// Hops a write's news onto the event loop, once however many writes come meanwhile.
    private final class Waker: Sendable {
        let scheduled = Atomic<Bool>(false)
        let eventLoop: any EventLoop
        let pump = Mutex<StoredHandler<Void>?>(nil)

        init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

        func wake() {
            guard !scheduled.exchange(true, ordering: .acquiringAndReleasing) else { return }
            eventLoop.execute {
                self.scheduled.store(false, ordering: .releasing)
                self.pump.withLock { $0 }?.call(())
            }
        }
    }

    /// - Parameter following: true for FOLLOW (until the tasks end), false for LOG (what is kept now).
    init(_ futures: [Future], streams: OutputSelection, following: Bool, outputs: TaskOutputs, eventLoop: any EventLoop) {
        self.outputs = outputs
        self.streams = streams.streams
        self.following = following
        self.tasks = futures.map { Followed(future: $0) }
        self.waker = Waker(eventLoop: eventLoop)
    }

    func start(_ output: StreamOutput) {
        self.output = output
        if following {
            let loopBound = NIOLoopBound(self, eventLoop: waker.eventLoop)
            waker.pump.withLock { $0 = StoredHandler { _ in loopBound.value.pump() } }
            for index in tasks.indices {
                let waker = self.waker
                tasks[index].watchToken = outputs.watch(tasks[index].future.id) { waker.wake() }
                tasks[index].future.addDoneCallback { [weak waker] _ in waker?.wake() }
            }
        }
        pump()
    }

    var endsWithInput: Bool { false }

    func writable() { pump() }

    func stop(reason: String?) {
        guard !finished else { return }
        release()
        if let reason { output?.end(ProtocolJSON.encode(["reason": reason])) }
    }

    private func release() {
        finished = true
        waker.pump.withLock { $0 = nil }
        for task in tasks {
            if let token = task.watchToken { outputs.unwatch(task.future.id, token: token) }
        }
    }

    /// Writes what is there while the channel takes it; ends once every task has.
    private func pump() {
        guard let output, !finished else { return }
        var progressed = true
        while progressed && output.isWritable {
            progressed = false
            for index in tasks.indices where !tasks[index].endSent {
                // Read before the output: a task's output is all written before it ends.
                let ended = !following || tasks[index].future.isDone
                var wrote = false
                for stream in streams where output.isWritable {
                    wrote = writePiece(of: index, stream, ended: ended, to: output) || wrote
                }
                if wrote {
                    progressed = true
                } else if ended && output.isWritable {
                    if following { output.write(.ended(ProtocolJSON.encode(FuturePayload(tasks[index].future)))) }
                    tasks[index].endSent = true
                    progressed = true
                }
            }
        }
        if tasks.allSatisfy(\.endSent) {
            release()
            output.end()
        }
    }

    /// Writes the next piece of one stream; false when there is none (yet).
    private func writePiece(of index: Int, _ stream: StandardStream, ended: Bool, to output: StreamOutput) -> Bool {
        let id = tasks[index].future.id
        let position = tasks[index].positions[stream, default: 0]
        switch outputs.read(id, stream, from: position, count: Self.pieceBytes) {
        case .none:
            return false
        case .dropped(let count):
            output.write(.output(ProtocolJSON.encode(OutputChunkPayload(id: id.description, stream: stream, dropped: count))))
            tasks[index].positions[stream] = position + count
            return true
        case .bytes(var bytes):
            // At the live end, a character the task is half-way through writing waits for its rest.
            if !ended && position + bytes.count == outputs.total(id, stream) {
                bytes.removeLast(CommandOutput.incompleteCharacterLength(bytes))
                if bytes.isEmpty { return false }
            }
            output.write(.output(ProtocolJSON.encode(OutputChunkPayload(id: id.description, stream: stream, bytes: bytes))))
            tasks[index].positions[stream] = position + bytes.count
            return true
        }
    }
}
