extension Result where Failure == any Error {
    /// What `body` returned, or what it threw: `Result(catching:)` for async work.
    init(awaiting body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
