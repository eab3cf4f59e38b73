#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import PyBackgroundClient
import PyBackgroundProtocol

/// One request to the daemon and the reporting of its failure, as every command does it; built
/// from `GlobalOptions` by ArgumentParser's path or directly by ``PlainSubmit``.
struct DaemonClient {
    /// `--socket`, when given.
    var socket: String?
    /// `--json`: replies and errors are printed as JSON.
    var json: Bool

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

    /// Sends one request and returns its OK JSON; any failure is printed on stderr and thrown
    /// with its exit status.
    func request(_ request: Request) throws -> String {
        let path = socketPath
        do {
            let connection = try ControlConnection(path: path)
            switch try connection.send(request) {
            case .ok(let json):
                return json
            case .error(let code, let message):
                throw fail(ExitStatus(code), message, code: code.rawValue)
            }
        } catch let error as ClientError {
            var message = error.message
            if error.code == .notRunning {
                message += "; start it with `systemctl start pybgd` (or run `pybgd --socket \(path)`), or point --socket / PYBGD_SOCKET at it"
            }
            throw fail(ExitStatus(error.code), message, code: error.code.rawValue)
        }
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
            Output.error(ProtocolJSON.encode(["error": ["code": JSONValue.string(code), "message": .string(message)]]))
        } else {
            Output.error("pybgctl: \(message)")
        }
        return Failure(status: status, message: message)
    }
}
