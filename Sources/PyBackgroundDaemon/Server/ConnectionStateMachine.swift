import NIOCore
import PyBackgroundProtocol

/// The ordering rules of one control connection, without sockets: a value whose methods take what
/// happened (a line read, a reply ready, the channel's writability, the client's end) and whose
/// ``nextAction()`` says what the handler does next. ``ConnectionHandler`` performs the actions.
///
/// The rules:
/// - Each request gets one reply, in request order. A request is evaluated only after the one
///   before it has its reply, so `WAIT id` then `RESULT id` sees the ended task.
/// - The exception: a run of SUBMITs that wait for the store (durable replies) is evaluated back
///   to back so that they share a commit; their replies are owed and still go out in order, and a
///   request of another kind is parked until every owed reply is in.
/// - While a reply is awaited (WAIT, SHUTDOWN wait, CLEAN, a parked request), lines read are held
///   and the channel's reads are not passed on; while the client does not read its replies (the
///   channel is not writable), lines are held too.
/// - A line over the limit is answered in its turn, after the replies owed before it, and then
///   the connection closes at the client's end (nothing after it can be framed).
/// - At the client's end of input (or the daemon's shutdown) the replies owed are written, then
///   the connection closes.
/// - A streaming reply (LOG, FOLLOW, EVENTS) is awaited like a later one until the handler ends
///   it, but reads go on meanwhile (up to ``maxHeldWhileStreaming`` lines are held), so that the
///   client's end is seen.
struct ConnectionStateMachine {
    /// A line as the codec hands it over.
    enum Line: Equatable {
        case request(Request)
        /// Not a request (bad UTF-8, a parse error): its error reply.
        case invalid(Response)
        /// Longer than the limit.
        case tooLong
    }

    /// How a request is answered, as the handler found when it evaluated it.
    enum Evaluation: Equatable {
        case now(Response)
        /// Later; the requests after it wait for ``laterReplyReady(_:)``.
        case later
        /// Once durable; further SUBMITs are evaluated meanwhile. The handler passes ``owedPosition``
        /// back with ``durableReplyReady(at:_:)``.
        case durable
        /// Its `OK` is written and its stream runs; the requests after it wait for ``streamEnded()``.
        case stream
    }

    enum Action: Equatable {
        /// Evaluate this request now and report with ``evaluated(_:)`` before the next action.
        case evaluate(Request)
        case write(Response)
        /// Pass on the read the channel asked for.
        case read
        /// Close now.
        case close
        /// Close once everything written so far is out.
        case closeWhenWritten
        /// Everything is written: shut our side, drop what still comes, let the client close.
        case closeAfterLastReply
    }

    /// Why the idle timer's firing closes the connection, for the handler's log.
    enum IdleOutcome: Equatable {
        /// Not one reply read for the whole idle time: replies owed can never be delivered.
        case closedUnread
        /// No request for the idle time: told so, then closed.
        case closedIdle
        /// A reply is awaited, or the connection is closing already.
        case ignored
    }

    private(set) var isWritable = true
    private var awaiting = false
    /// A streaming reply runs (``awaiting`` is true too).
    private(set) var streaming = false
    private var evaluating = false
    private var held = CircularBuffer<Line>()
    private var readRequested = false
    private var closeWhenDone = false
    /// Nothing more is read or evaluated; replies still owed are written.
    private(set) var closing = false
    /// A line over the limit came in behind held lines: answered in its turn.
    private var tooLongAfterHeld = false
    /// Line-too-long was answered behind owed replies: close once they are written.
    private var closeAfterOwed = false
    /// Replies owed while durable replies are outstanding, in request order (nil: not ready yet).
    private var owed = CircularBuffer<Response?>()
    /// The position, over the connection's life, of `owed.first`.
    private var owedBase = 0
    private var durableOutstanding = 0
    /// A request that came after durable SUBMITs and waits for their replies.
    private var parked: Request?
    private var actions = CircularBuffer<Action>()
    private let tooLongReply: Response
    private let idleReply: Response

    /// - Parameters:
    ///   - tooLongReply: the reply to a line over the limit.
    ///   - idleReply: said before an idle connection is closed.
    init(tooLongReply: Response, idleReply: Response) {
        self.tooLongReply = tooLongReply
        self.idleReply = idleReply
    }

    /// The position the next durable reply will have: what ``durableReplyReady(at:_:)`` takes.
    var owedPosition: Int { owedBase + owed.count }

    // MARK: - Events

    mutating func lineReceived(_ line: Line) {
        // Nothing after a line over the limit is read: it could not be framed.
        guard !closing && !tooLongAfterHeld else { return }
        if case .tooLong = line, isBusy {
            tooLongAfterHeld = true
        } else if isBusy {
            held.append(line)
        } else {
            process(line)
        }
    }

    /// The handler evaluated the request of the last ``Action/evaluate(_:)``.
    mutating func evaluated(_ evaluation: Evaluation) {
        precondition(evaluating, "evaluated(_:) without an evaluate action")
        evaluating = false
        switch evaluation {
        case .now(let response): emit(response)
        case .later: awaiting = true
        case .durable:
            owed.append(nil)
            durableOutstanding += 1
        case .stream:
            awaiting = true
            streaming = true
        }
    }

    /// Lines held while a stream runs before reads stop: a client that pipelines requests
    /// behind a stream waits for it, and cannot make the daemon hold more than this.
    static let maxHeldWhileStreaming = 64

    /// The streaming reply ended: the held requests go on.
    mutating func streamEnded() {
        guard streaming else { return }
        streaming = false
        awaiting = false
    }

    /// The awaited reply of a `.later` evaluation turned out a stream (its `OK` written by the
    /// handler): it ends with ``streamEnded()``.
    mutating func laterStreamStarted() {
        precondition(awaiting, "laterStreamStarted() without a later evaluation")
        streaming = true
    }

    /// The awaited reply of a `.later` evaluation.
    mutating func laterReplyReady(_ response: Response) {
        emit(response)
        awaiting = false
    }

    /// A durable reply, at the position ``owedPosition`` gave when it was evaluated.
    mutating func durableReplyReady(at position: Int, _ response: Response) {
        owed[owed.index(owed.startIndex, offsetBy: position - owedBase)] = response
        while let first = owed.first, let ready = first {
            actions.append(.write(ready))
            owed.removeFirst()
            owedBase += 1
        }
        closeIfOwedWritten()
        durableOutstanding -= 1
        if durableOutstanding == 0, let request = parked {
            parked = nil
            awaiting = false
            evaluate(request)
        }
    }

    mutating func writabilityChanged(_ writable: Bool) {
        isWritable = writable
    }

    /// The channel asks for a read: true to pass it on now; otherwise it is passed on once the
    /// awaited reply is in.
    mutating func readWanted() -> Bool {
        if streaming && held.count < Self.maxHeldWhileStreaming { return true }
        if awaiting {
            readRequested = true
            return false
        }
        return true
    }

    /// The client sent all it will (or the daemon stops): answer what is owed, then close.
    mutating func inputClosed() {
        if closing && !closeAfterOwed {
            actions.append(.close)
        } else {
            closeWhenDone = true
        }
    }

    /// The daemon is shutting down: close once the replies owed are written.
    mutating func closeWhenRepliesWritten() {
        closeWhenDone = true
    }

    /// The idle timer fired (no request read for the idle time).
    mutating func idleTimeout() -> IdleOutcome {
        if !isWritable {
            closing = true
            actions.append(.close)
            return .closedUnread
        }
        guard !awaiting && !closeWhenDone else { return .ignored }
        emit(idleReply)
        closeWhenDone = true
        return .closedIdle
    }

    // MARK: - Actions

    /// What to do next; nil when nothing is left until the next event.
    mutating func nextAction() -> Action? {
        while actions.isEmpty {
            if !evaluating && !awaiting && isWritable && !closing, let line = held.popFirst() {
                process(line)
                continue
            }
            guard !evaluating else { return nil }
            if held.isEmpty && tooLongAfterHeld && !awaiting {
                tooLongAfterHeld = false
                lineTooLong()
                continue
            }
            if !awaiting && readRequested {
                readRequested = false
                return .read
            }
            if closeWhenDone && !closing && !awaiting && durableOutstanding == 0 && held.isEmpty {
                closing = true
                return .closeWhenWritten
            }
            return nil
        }
        return actions.removeFirst()
    }

    // MARK: - Rules

    private var isBusy: Bool { awaiting || evaluating || !held.isEmpty || !isWritable }

    private mutating func process(_ line: Line) {
        guard !closing else { return }
        switch line {
        case .tooLong:
            lineTooLong()
        case .invalid(let response):
            emit(response)
        case .request(let request):
            if durableOutstanding > 0 && !request.isSubmit {
                parked = request
                awaiting = true
            } else {
                evaluate(request)
            }
        }
    }

    private mutating func evaluate(_ request: Request) {
        evaluating = true
        actions.append(.evaluate(request))
    }

    /// Writes a reply now, or queues it behind the durable replies still owed.
    private mutating func emit(_ response: Response) {
        if owed.isEmpty { actions.append(.write(response)) } else { owed.append(response) }
    }

    private mutating func lineTooLong() {
        guard !closing else { return }
        closing = true
        emit(tooLongReply)
        closeAfterOwed = true
        closeIfOwedWritten()
    }

    private mutating func closeIfOwedWritten() {
        guard closeAfterOwed, owed.isEmpty else { return }
        closeAfterOwed = false
        actions.append(.closeAfterLastReply)
    }
}
