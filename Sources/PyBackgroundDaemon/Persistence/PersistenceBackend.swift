import Logging
import PyBackgroundPostgres
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
    static func open(_ configuration: DaemonConfiguration, workers: Int, logger: Logger) throws(StateStoreError) -> any TaskPersistence {
        let state = configuration.state
        switch state.store {
        case .memory:
            return MemoryPersistence()
        case .sqlite:
            return try SQLitePersistence(path: sqlitePath(state), groupID: state.group.flatMap(SystemAccounts.groupID), logger: logger)
        case .postgresql:
            return try PostgresPersistence(settings: sharedSettings(configuration, workers: workers), logger: logger)
        }
    }

    /// `state.store: postgresql`'s settings; the URL was checked when the configuration was read.
    private static func sharedSettings(_ configuration: DaemonConfiguration, workers: Int) throws(StateStoreError) -> PostgresPersistence.Settings {
        let state = configuration.state
        let database: PostgresSettings
        do {
            database = try PostgresSettings.parse(url: state.url ?? "", passwordFile: state.passwordFile)
        } catch {
            throw StateStoreError(.unreadable, path: "state.url", error.description)
        }
        return PostgresPersistence.Settings(
            database: database, host: state.hostName ?? ProcessInfo.processInfo.hostName, lease: .milliseconds(Int64(state.leaseSeconds * 1000)),
            crashLimit: state.crashLimit, prefetch: state.prefetch, poll: .milliseconds(Int64(state.pollSeconds * 1000)),
            workers: workers, queues: configuration.queues.map { ($0.name, $0.maxRunning) })
    }

    /// Where tasks' output is kept, with the tables: files beside the SQLite file, or memory.
    static func openOutput(_ state: DaemonConfiguration.State) throws(OutputStorageError) -> any OutputStorage {
        switch state.store {
        case .memory, .postgresql:
            // With a shared store, each host keeps the output of what it ran.
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
