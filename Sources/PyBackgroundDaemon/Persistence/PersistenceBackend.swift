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
            return try SQLitePersistence(path: sqlitePath(state), groupID: state.group.flatMap(SystemAccounts.groupID), logger: logger)
        }
    }

    /// Where tasks' output is kept, with the tables: files beside the SQLite file, or memory.
    static func openOutput(_ state: DaemonConfiguration.State) throws(OutputStorageError) -> any OutputStorage {
        switch state.store {
        case .memory:
            return MemoryOutputStorage()
        case .sqlite:
            return try FileOutputStorage(
                root: FileOutputStorage.root(forStore: sqlitePath(state)), groupID: state.group.flatMap(SystemAccounts.groupID))
        }
    }

    private static func sqlitePath(_ state: DaemonConfiguration.State) -> String {
        state.path ?? DaemonConfiguration.State.defaultPath(environment: ProcessInfo.processInfo.environment, userID: getuid())
    }
}
