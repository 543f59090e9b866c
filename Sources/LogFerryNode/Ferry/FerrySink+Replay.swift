import Foundation
import LogFerrySpool
import Logging

/// Where a replay stands: the records from `first` up to `end` (the cursor when the node started) are sent
/// again; `floor` moves up as they are acknowledged, so a reconnect during the replay goes on where it was.
actor FerryReplayProgress {
    let request: String
    let first: UInt64
    let end: UInt64
    private(set) var floor: UInt64
    private(set) var finished = false
    /// Records sent again so far (merged records count once).
    private(set) var sentRecords = 0
    private let started = ContinuousClock.now

    init(request: String, first: UInt64, end: UInt64) {
        self.request = request
        self.first = first
        self.end = end
        self.floor = first - 1
    }

    /// Notes the commit point; returns true once, when the replay has caught up with the cursor.
    func advance(to point: UInt64) -> Bool {
        guard !finished else { return false }
        floor = max(floor, point)
        if floor >= end {
            finished = true
            return true
        }
        return false
    }

    /// Notes a record sent; counts it when it is part of the replay.
    func sent(_ sequence: UInt64) {
        if !finished, sequence <= end { sentRecords += 1 }
    }

    /// Seconds since the replay started.
    var elapsed: Double {
        let duration = ContinuousClock.now - started
        return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}

extension FerrySink {
    /// The spool state that records the last replay carried out.
    static let replayStateName = "ferry-replay"

    /// Finds the retained records a `--replay-since` asks for: from the first record sealed at or after the
    /// time up to the cursor. Nil when there is nothing to replay, or the same request was already carried out.
    func planReplay(cursor: UInt64) async throws -> FerryReplayProgress? {
        guard let replay = configuration.replay else { return nil }
        let stateName = "\(Self.replayStateName)-\(configuration.cursorName)"
        if !replay.again, let done = await spool.loadState(stateName), String(decoding: done, as: UTF8.self) == replay.request {
            logger.info("replay since \(replay.request) was already carried out; not replaying again (use --replay-again to force)")
            return nil
        }
        let sinceNanos = UInt64(max(0, replay.since * 1e9))
        let reader = spool.makeReader(from: await spool.firstSequence)
        var first: UInt64?
        var count = 0
        while let record = try await reader.nextIfAvailable(), record.sequence <= cursor {
            let sealedAt = (try? RecordMetadata(decoding: record.metadata))?.sealedAt
            // A record without a seal time (written before seal times existed) is included.
            if first == nil, sealedAt.map({ $0 >= sinceNanos }) ?? true { first = record.sequence }
            if first != nil { count += 1 }
        }
        guard let first else {
            logger.info("replay since \(replay.request): no retained record was sealed since then; nothing to replay")
            try await spool.saveState(stateName, Array(replay.request.utf8))
            return nil
        }
        logger.info("replay since \(replay.request): sending \(count) retained batch(es) again (sequences \(first)...\(cursor)); the upstream writes only what it is missing")
        return FerryReplayProgress(request: replay.request, first: first, end: cursor)
    }

    /// Records a finished replay so a restart with the same flag does not repeat it, and reports it.
    func finishReplay(_ replay: FerryReplayProgress) async throws {
        let stateName = "\(Self.replayStateName)-\(configuration.cursorName)"
        try await spool.saveState(stateName, Array(replay.request.utf8))
        let records = await replay.sentRecords
        let seconds = await replay.elapsed
        metrics.replayedBatches.increment(by: Int64(records))
        logger.info("replay since \(replay.request) done: \(records) batch(es) sent again in \(String(format: "%.1f", seconds)) s (the upstream stored only what it was missing); now shipping live")
    }
}
