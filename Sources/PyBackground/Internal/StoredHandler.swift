/// A handler kept in a `Mutex`: a closure stored as a generic `Mutex`'s value is converted to and
/// from the generic representation at each `withLock`, and the write-back at the end of the
/// access wraps it in one more reabstraction thunk each time, so a handler read per event grows a
/// chain of thunks without end (seen in perf as dozens of nested thunks; it would end in a stack
/// overflow). In a struct's `let` it keeps its own representation.
package struct StoredHandler<Input>: Sendable {
    package let call: @Sendable (Input) -> Void

    package init(_ call: @escaping @Sendable (Input) -> Void) { self.call = call }
}
