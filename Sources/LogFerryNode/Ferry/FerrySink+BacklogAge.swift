import LogFerrySpool

extension FerrySink {
    /// Every second until cancelled, sets `logferry_ferry_sink_oldest_unacked_age_seconds` to how long the oldest
    /// batch not yet acknowledged upstream has been in the spool (from the seal time in its record metadata); 0 when
    /// nothing waits.
    ///
    /// The oldest unacknowledged record is found with one reader that only moves forward (acks only move forward),
    /// and its seal time is kept until the acks pass it: the cost is at most one more read of each record, and none
    /// while the upstream acks nothing (same record as before). With no backlog at a tick the reader is let go, and
    /// the next backlog starts a new one (which scans at most one segment to its first record).
    func reportBacklogAge() async {
        var reader: SpoolReader?
        var oldest: (sequence: UInt64, sealedAt: UInt64?)?
        while !Task.isCancelled {
            let target = await progress.acknowledged + 1
            var age = 0.0
            if await spool.lastSequence < target {
                // Nothing waits: let go of the reader (its open segment would keep a deleted file's space).
                reader = nil
                oldest = nil
            } else {
                if (oldest?.sequence ?? 0) < target {
                    if reader == nil { reader = spool.makeReader(from: target) }
                    oldest = nil
                    while let record = try? await reader?.nextIfAvailable() {
                        guard record.sequence >= target else { continue }
                        oldest = (record.sequence, (try? RecordMetadata(decoding: record.metadata))?.sealedAt)
                        break
                    }
                }
                if let sealedAt = oldest?.sealedAt {
                    age = max(0, Double(RecordMetadata.now()) - Double(sealedAt)) / 1e9
                }
            }
            metrics.oldestUnackedAge.record(age)
            do {
                try await Task.sleep(for: .seconds(1))
            } catch {
                return
            }
        }
    }
}
