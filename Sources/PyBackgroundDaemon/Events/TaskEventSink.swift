/// Takes task events as they happen, on the thread where they happen (a worker, the event loop,
/// the store's writer): an `EVENTS` reader, the metrics. Must return quickly and never block.
protocol TaskEventSink: AnyObject, Sendable {
    func receive(_ event: TaskEvent)
}
