/// One at a time, in the order asked: for tests that would otherwise load the machine together
/// (each PostgreSQL cluster's initdb and server; under the whole suite, five at once starved the
/// browser test's Chromium until it died).
actor Turns {
    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    func take() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    func give() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
