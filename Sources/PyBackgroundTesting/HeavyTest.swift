/// Tests that load the machine take turns: a PostgreSQL cluster with several pybgd processes on
/// it, and the browser test's Chromium. Under the whole suite on 2 cores, Chromium beside them was
/// starved until it died (its pipe closed after 50 s), and clusters started together did the same.
public enum HeavyTest {
    private static let turns = Turns()

    /// Runs `body` when no other heavy test runs, in the order asked; the turn is given back
    /// whatever `body` does.
    public static func alone<Value>(_ body: () async throws -> Value) async throws -> Value {
        await turns.take()
        let outcome: Result<Value, any Error>
        do {
            outcome = .success(try await body())
        } catch {
            outcome = .failure(error)
        }
        await turns.give()
        return try outcome.get()
    }
}
