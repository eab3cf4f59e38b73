import PyBackgroundClient
import PyBackgroundProtocol

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// One request to the daemon and the reporting of its failure, as every command does it; built
/// from `GlobalOptions` by ArgumentParser's path or directly by ``PlainCommand``.
struct DaemonClient {
    /// `--socket`, when given.
    var socket: String?
    /// `--json`: replies and errors are printed as JSON.
    var json: Bool
    /// Seconds to wait for a reply before giving up (``ReplyTimeout``); nil: no limit.
    var replyTimeout: Double? = ReplyTimeout.defaultSeconds

    /// `--socket`, else `PYBGD_SOCKET`, else the daemon's own default; the systemd path when the
    /// per-user one does not exist but the system daemon's does.
    var socketPath: String {
        if let socket { return socket }
        // getenv for the three variables read: copying the whole environment into a dictionary
        // (ProcessInfo.environment) was a third of a plain `submit`'s instructions.
        var environment: [String: String] = [:]
        for name in ["PYBGD_SOCKET", "RUNTIME_DIRECTORY", "XDG_RUNTIME_DIR"] {
            environment[name] = getenv(name).map { String(cString: $0) }
        }
        if let fromEnvironment = environment["PYBGD_SOCKET"], !fromEnvironment.isEmpty { return fromEnvironment }
        let personal = SocketPath.default(environment: environment, uid: getuid())
        let system = "/run/pybgd/pybgd.sock"
        if access(personal, F_OK) != 0 && access(system, F_OK) == 0 { return system }
        return personal
    }

    /// How long to wait for the reply to `request`: a WAIT as long as its own timeout (and the
    /// reply timeout on top, for the way back), without one as long as the task runs; SHUTDOWN
    /// wait as long as the daemon's shutdown takes; anything else the reply timeout.
    func readTimeout(for request: Request) -> Double? {
        switch request {
        case .wait(_, let seconds?): replyTimeout.map { seconds + $0 }
        case .wait(_, nil), .shutdown(wait: true), .follow, .events: nil
        default: replyTimeout
        }
    }

    /// Sends one request and returns its OK JSON; any failure is printed on stderr and thrown
    /// with its exit status.
    func request(_ request: Request) throws -> String {
        try send(request, on: try connect())
    }

    /// A connection to the daemon, or the failure reported.
    func connect() throws -> ControlConnection {
        let path = socketPath
        do {
            return try ControlConnection(path: path, connectTimeout: replyTimeout)
        } catch {
            throw report(error, path: path)
        }
    }

    /// Sends `request` on `connection` and returns its OK JSON, as ``request(_:)``.
    func send(_ request: Request, on connection: ControlConnection) throws -> String {
        switch try reply(to: request, on: connection) {
        case .ok(let json):
            return json
        case .error(let code, let message):
            throw fail(ExitStatus(code), message, code: code.rawValue)
        }
    }

    /// The daemon's reply to `request`, OK or ERR; a connection that fails is reported and thrown.
    func reply(to request: Request, on connection: ControlConnection) throws -> Response {
        connection.setReadTimeout(seconds: readTimeout(for: request))
        do {
            return try connection.send(request)
        } catch {
            throw report(error, path: connection.path)
        }
    }

    /// Sends a streaming request (LOG, FOLLOW, EVENTS) and returns its connection and `OK` JSON;
    /// read the stream with ``nextStreamLine(on:)``.
    func openStream(_ request: Request) throws -> (ControlConnection, String) {
        let connection = try connect()
        return (connection, try send(request, on: connection))
    }

    /// The next line of a stream; nil when the daemon closed the connection.
    func nextStreamLine(on connection: ControlConnection) throws -> StreamLine? {
        let line: String?
        do {
            line = try connection.readLine()
        } catch {
            throw report(error, path: connection.path)
        }
        guard let line else { return nil }
        do {
            return try StreamLine(parsing: line[...])
        } catch {
            throw fail(ExitStatus(error.code), error.message, code: error.code.rawValue)
        }
    }

    private func report(_ error: ClientError, path: String) -> Failure {
        var message = error.message
        switch error.code {
        case .notRunning:
            message += "; start it with `systemctl start pybgd` (or run `pybgd --socket \(path)`), or point --socket / PYBGD_SOCKET at it"
        case .timedOut:
            message =
                "pybgd on \(path) did not answer within \(Output.duration(replyTimeout)) (is it stopped or hung?); "
                + "--timeout S or PYBGCTL_TIMEOUT=S waits longer, 0 for no limit"
        default:
            break
        }
        return fail(ExitStatus(error.code), message, code: error.code.rawValue)
    }

    /// Like ``request(_:)``, decoding the payload.
    func request<Payload: Decodable>(_ request: Request, as type: Payload.Type) throws -> (Payload, String) {
        let json = try self.request(request)
        return (try decode(type, from: json, replyingTo: request), json)
    }

    /// The payload of an OK reply; an unexpected one is reported as a protocol error.
    func decode<Payload: Decodable>(_ type: Payload.Type, from json: String, replyingTo request: Request) throws -> Payload {
        do {
            return try ProtocolJSON.decode(type, from: json)
        } catch {
            throw fail(.protocolError, "unexpected reply to \(request.line): \(error.message)", code: "bad-reply")
        }
    }

    /// Prints the error (one line, or a JSON object with --json) and makes the failure to throw.
    func fail(_ status: ExitStatus, _ message: String, code: String) -> Failure {
        if json {
            Output.errorJSON(ProtocolJSON.encode(["error": ["code": JSONValue.string(code), "message": .string(message)]]))
        } else {
            Output.error("pybgctl: \(message)")
        }
        return Failure(status: status, message: message)
    }
}
