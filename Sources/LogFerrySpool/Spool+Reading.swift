extension Spool {
    /// What a reader may read, taken in one step so that the pieces agree.
    struct ReadSnapshot: Sendable {
        /// The spool is closed: readers return `nil`.
        var closed: Bool
        /// The highest sequence a reader may return (durable under the policy).
        var lastReadable: UInt64
        /// The tail segment, if any, and the offset up to which it holds whole records.
        var tailFirst: UInt64?
        var tailEnd: Int64
        /// The segment holding `sequence` (the newest segment named at or below it, else the oldest one).
        var segmentForSequence: UInt64?
        /// The segment after the reader's current one.
        var segmentAfterCurrent: UInt64?
        /// Whether the reader's current segment is still in the spool. A reader left behind (its segment consumed
        /// or dropped and deleted while it still had the file open) finds the segments after it deleted too:
        /// segments go from the oldest end, so what it misses there is not a gap.
        var currentIsListed: Bool
    }

    func readSnapshot(sequence: UInt64, current: UInt64?) -> ReadSnapshot {
        var forSequence: UInt64? = segments.first?.first
        for segment in segments.reversed() where segment.first <= sequence {
            forSequence = segment.first
            break
        }
        let after = current.flatMap { current in segments.first(where: { $0.first > current })?.first }
        return ReadSnapshot(
            closed: closed,
            lastReadable: lastSequence,
            tailFirst: tail?.first ?? segments.last?.first,
            tailEnd: tail?.writeOffset ?? Int64.max,
            segmentForSequence: forSequence,
            segmentAfterCurrent: after,
            currentIsListed: current.map { current in segments.contains { $0.first == current } } ?? false
        )
    }

    /// Returns once a record above `sequence` is readable, the spool closes or fails, or the task is cancelled.
    func waitForRecords(after sequence: UInt64) async {
        guard !closed, lastSequence <= sequence else { return }
        await suspend(.reader)
    }

    /// A reader that yields the records with a sequence at or above `sequence`, in order.
    ///
    /// `nonisolated` so that it can be made from any context; the reader talks to the spool itself.
    public nonisolated func makeReader(from sequence: UInt64) -> SpoolReader {
        SpoolReader(spool: self, layout: SpoolLayout(directory: configuration.directory), from: sequence)
    }
}
