import PyBackgroundTesting

@testable import PyBackground

struct Failure: Error, Equatable {
    let reason: String
}

/// Starts `fn` and returns its future. (Not `scheduler.futures[try scheduler.start(…)]`: that
/// takes the view before the start, and a view never holds tasks started after it.)
func startFuture<Value: Sendable>(_ scheduler: Scheduler, _ fn: @escaping @Sendable () throws -> Value) throws -> Future {
    let id = try scheduler.start(fn)
    return scheduler.futures[id]!
}
