import PyBackgroundClient
import PyBackgroundProtocol

/// A daemon a test talks to over its control socket, wherever it runs (``DaemonHarness``: a real
/// `pybgd` process; ``InProcessDaemon``: one in the test's own process). Every request goes
/// through the real client and the real socket.
public protocol DaemonEndpoint {
    /// The control socket.
    var socketPath: String { get }
}

extension DaemonEndpoint {
    /// A new connection to the control socket.
    public func connect() throws -> ControlConnection { try ControlConnection(path: socketPath) }

    /// Sends one request on a new connection.
    public func send(_ request: Request) throws -> Response { try connect().send(request) }

    /// Sends a request and decodes its OK payload; throws on ERR, naming the request and the error.
    public func ok<Payload: Decodable>(_ request: Request, as type: Payload.Type) throws -> Payload {
        switch try send(request) {
        case .ok(let json): return try ProtocolJSON.decode(type, from: json)
        case .error(let code, let message): throw HarnessError("\(request.line) → ERR \(code) \(message)")
        }
    }

    /// Submits `task` with `arguments` and returns the new task's id.
    public func submit(_ task: String, _ arguments: String...) throws -> String {
        try ok(.submit(task: task, arguments: arguments), as: SubmitPayload.self).id
    }
}
