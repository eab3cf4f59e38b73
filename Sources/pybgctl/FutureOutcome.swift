import PyBackgroundProtocol

/// What `wait ID` and `result ID` print of a future: its id, state, result and error.
///
/// Read from the reply by ``init(reply:)`` without JSONDecoder (`JSONValue(parsingJSON:)`), whose
/// first use was more than half of `pybgctl wait`'s instructions; any reply that reader does not
/// take, or whose fields are not a future's, goes through JSONDecoder as `FuturePayload`, which
/// names what is wrong. `FutureOutcomeTests` checks that both readings agree.
struct FutureOutcome: Equatable {
    var id: String
    var state: String
    var result: JSONValue?
    var error: ErrorPayload?

    init(_ future: FuturePayload) {
        id = future.id
        state = future.state
        result = future.result
        error = future.error
    }

    /// The outcome in `json`, a reply to `request`; a reply that is not a future's is reported as
    /// ``DaemonClient/decode(_:from:replyingTo:)`` reports it.
    init(reply json: String, to request: Request, client: DaemonClient) throws {
        if let plain = Self(plainJSON: json) {
            self = plain
        } else {
            self.init(try client.decode(FuturePayload.self, from: json, replyingTo: request))
        }
    }

    /// nil unless `json` is an object with every field `FuturePayload` requires and no key but
    /// those of a plain future (a future with flow options, attempts or a stop request is left to
    /// JSONDecoder), each optional one of its type. A null `result` or `detail` is absent, as
    /// JSONDecoder's `decodeIfPresent` reads it; a null anywhere else is left to JSONDecoder.
    init?(plainJSON json: String) {
        guard case .object(let fields)? = JSONValue(parsingJSON: json),
            case .string(let id)? = fields["id"], case .string? = fields["name"], case .array? = fields["args"],
            case .object? = fields["kwargs"], case .string(let state)? = fields["state"]
        else { return nil }
        for (key, value) in fields {
            switch key {
            case "id", "name", "args", "kwargs", "state", "result", "error":
                continue
            case "submitted_at", "run_at", "tick", "started_at", "ended_at", "duration_seconds", "retry_at":
                guard Self.isNumber(value) else { return nil }
            case "schedule", "host":
                guard case .string = value else { return nil }
            case "attempt":
                guard case .int = value else { return nil }
            default:
                return nil
            }
        }
        guard fields["submitted_at"] != nil else { return nil }
        self.id = id
        self.state = state
        result = Self.absentIfNull(fields["result"])
        switch fields["error"] {
        case nil:
            error = nil
        case .object(let error)?:
            guard case .string(let code)? = error["code"], case .string(let message)? = error["message"],
                error.keys.allSatisfy({ ["code", "message", "detail"].contains($0) })
            else { return nil }
            self.error = ErrorPayload(code: code, message: message, detail: Self.absentIfNull(error["detail"]))
        default:
            return nil
        }
    }

    /// (`JSONValue` is `ExpressibleByNilLiteral`: a bare `nil` there would be `.null`.)
    private static func absentIfNull(_ value: JSONValue?) -> JSONValue? {
        if case .null? = value { return Optional<JSONValue>.none }
        return value
    }

    private static func isNumber(_ value: JSONValue) -> Bool {
        switch value {
        case .int, .double: true
        default: false
        }
    }
}
