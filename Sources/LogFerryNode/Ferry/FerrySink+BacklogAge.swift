import LogFerrySpool

extension FerrySink {
    /// Every second until cancelled, sets `logferry_ferry_sink_oldest_unacked_age_seconds` to how long the oldest
    /// batch not yet acknowledged upstream has been in the spool (from the seal time in its record metadata); 0 when
    /// nothing waits. It reads one record's header and metadata per tick, whatever the backlog.
    func reportBacklogAge() async {
        while !Task.isCancelled {
            let acknowledged = await progress.acknowledged
            var age = 0.0
            if await spool.lastSequence > acknowledged {
                let reader = spool.makeReader(from: acknowledged + 1)
                if let record = try? await reader.nextIfAvailable(),
                    let sealedAt = (try? RecordMetadata(decoding: record.metadata))?.sealedAt
                {
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
