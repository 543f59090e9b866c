import Synchronization

/// One memory budget for every session of a listener (`--max-buffer-bytes`): the batches taken off the
/// sockets and not yet stored. A batch that would take the total past the limit is refused with retry-later
/// (the sender keeps it and comes back), except when nothing else is held, so any single batch within the
/// announced limits can always be taken.
final class BufferBudget: Sendable {
    /// The most bytes held at once.
    let limit: Int
    private let held = Atomic<Int>(0)

    init(limit: Int) {
        self.limit = max(limit, 0)
    }

    /// Reserves `bytes`; false (and nothing reserved) when that would pass the limit while others hold memory.
    func reserve(_ bytes: Int) -> Bool {
        let total = held.add(bytes, ordering: .relaxed).newValue
        if total > limit, total != bytes {
            held.subtract(bytes, ordering: .relaxed)
            return false
        }
        return true
    }

    /// Gives back what ``reserve(_:)`` took.
    func release(_ bytes: Int) {
        held.subtract(bytes, ordering: .relaxed)
    }

    /// Bytes held now.
    var current: Int { held.load(ordering: .relaxed) }
}
