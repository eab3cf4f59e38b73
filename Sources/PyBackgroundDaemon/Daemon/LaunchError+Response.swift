import PyBackgroundProtocol

extension Response {
    /// The launcher's refusal as the protocol's error reply.
    init(_ error: LaunchError) {
        switch error.code {
        case .shuttingDown: self = .error(.shuttingDown, error.message)
        case .storeFailed: self = .error(.storeFailed, error.message)
        }
    }
}
