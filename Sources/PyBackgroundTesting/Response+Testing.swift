import PyBackgroundProtocol

extension Response {
    /// An `OK` line.
    public var isOK: Bool { if case .ok = self { true } else { false } }
    /// The code of an `ERR` line; nil for `OK`.
    public var errorCode: ErrorCode? { if case .error(let code, _) = self { code } else { nil } }
    /// The payload of an `OK` line; nil for `ERR`.
    public var okJSON: String? { if case .ok(let json) = self { json } else { nil } }
}
