import PyBackgroundProtocol

extension Response {
    /// The launcher's refusal as the protocol's error reply.
    init(_ error: LaunchError) {
        self = .error(ErrorCode(error.code.rawValue), error.message)
    }
}
