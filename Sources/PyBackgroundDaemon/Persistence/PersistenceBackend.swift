import Logging
import PyBackgroundState

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// The one place the daemon chooses its ``TaskPersistence``, once, at start: `state.store` of its
/// configuration names the conforming type. A new backend is one more case here and one more type.
enum PersistenceBackend {
    static func open(_ state: DaemonConfiguration.State, logger: Logger) throws(StateStoreError) -> any TaskPersistence {
        switch state.store {
        case .memory:
            return MemoryPersistence()
        case .sqlite:
            let path =
                state.path
                ?? DaemonConfiguration.State.defaultPath(environment: ProcessInfo.processInfo.environment, userID: getuid())
            return try SQLitePersistence(path: path, groupID: state.group.flatMap(SystemAccounts.groupID), logger: logger)
        }
    }
}
