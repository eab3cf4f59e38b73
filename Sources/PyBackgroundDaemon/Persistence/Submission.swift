import PyBackground

/// A checked submission on its way to a worker: its record (id, arguments as the tables show
/// them, submission time, options), the registered task and arguments it runs with, and the words
/// the client typed (what a store keeps, to bind again after a restart): the task's arguments and
/// its flow options (``SubmitOptions/flowWords``).
struct Submission: Sendable {
    let record: TaskRecord
    let task: RegisteredTask
    let arguments: BoundArguments
    let words: [String]
    var optionWords: [String] = []
    /// Its prerequisites as the client named them (ids or prefixes), for a store several hosts
    /// share to resolve and enforce; an exclusive store gets them resolved, in `record`'s options.
    var after: [String] = []
}
