/// The source names of a batch body in order of first use, as its header lists them, with each event's index
/// into them. Events come in runs from one source, so a run costs one comparison per event, not a lookup.
struct BatchSourceTable {
    /// The names, in order of first use.
    private(set) var names: [String] = []
    private var indices: [String: Int] = [:]
    private var last: String?
    private var lastIndex = 0

    /// The index of `source`, added to the table at its first use.
    mutating func index(of source: String) -> Int {
        if source != last {
            if let index = indices[source] {
                lastIndex = index
            } else {
                lastIndex = names.count
                indices[source] = lastIndex
                names.append(source)
            }
            last = source
        }
        return lastIndex
    }

    /// Empties the table for the next batch, keeping its memory.
    mutating func removeAll() {
        names.removeAll(keepingCapacity: true)
        indices.removeAll(keepingCapacity: true)
        last = nil
        lastIndex = 0
    }
}
