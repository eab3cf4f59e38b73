import PyBackgroundClient
import PyBackgroundProtocol

/// pybgctl's exit statuses: one per kind of failure, so scripts can tell them apart.
/// Listed in `pybgctl --help`; usage errors exit 64 (ArgumentParser's EX_USAGE).
enum ExitStatus: Int32 {
    case success = 0
    /// The task failed or was cancelled (`submit --wait`, `wait`, `result`).
    case taskFailed = 1
    /// `wait --timeout` ran out before the task ended.
    case timedOut = 2
    /// No task of that name is registered.
    case unknownTask = 3
    /// An argument does not fit the task's parameters.
    case badArgument = 4
    /// No task has that id, or the prefix matches several.
    case unknownID = 5
    /// The task is not in a state the command applies to: `cancel` of a running or ended task,
    /// `kill` of an ended one, `retry` or `clean ID` of one that has not ended.
    case notPending = 6
    /// The daemon refused for now: shutting down, queue full, too many connections.
    case busy = 7
    /// `kill`: the task was asked to stop and still runs after the daemon's kill grace.
    case stillRunning = 8
    /// The daemon's reply was unexpected, or it reported an internal fault.
    case protocolError = 70
    /// No daemon answers on the socket: none runs there, or it did not reply in time.
    case notRunning = 69
    /// The daemon's state store could not record the request (disk full, I/O error): nothing was
    /// accepted or removed (EX_IOERR, as pybgd's own exit for a state store it cannot use).
    case storeFailed = 74
    /// This user may not use the socket.
    case permissionDenied = 77

    init(_ code: ErrorCode) {
        switch code {
        case .unknownTask, .unknownQueue: self = .unknownTask
        case .badArgument, .badRequest, .lineTooLong, .invalidUTF8, .unknownVerb: self = .badArgument
        case .unknownID, .ambiguousID: self = .unknownID
        case .notPending, .alreadyEnded, .notEnded: self = .notPending
        case .stillRunning: self = .stillRunning
        case .timedOut: self = .timedOut
        case .shuttingDown, .queueFull, .tooManyConnections: self = .busy
        case .permissionDenied: self = .permissionDenied
        case .storeFailed: self = .storeFailed
        default: self = .protocolError
        }
    }

    init(_ code: ClientError.Code) {
        switch code {
        case .notRunning: self = .notRunning
        case .permissionDenied: self = .permissionDenied
        case .connectFailed, .timedOut: self = .notRunning
        case .disconnected, .badReply: self = .protocolError
        }
    }

    /// The table for `--help`.
    static var summary: String {
        """
        Exit status: 0 success; 1 the task failed or was cancelled; 2 wait timed out; 3 unknown task or queue; \
        4 bad argument; 5 unknown or ambiguous id; 6 the task is not in a state the command applies to; \
        7 daemon busy (shutting down, queue full, too many connections); 8 a killed task still runs; 64 usage; 69 daemon not running or not answering; 70 protocol \
        error; 74 the daemon's state store could not write (disk full?): nothing was done; 77 permission denied.
        """
    }
}

/// A failure already reported on stderr, carrying the status to exit with.
struct Failure: Error {
    let status: ExitStatus
    let message: String
}
