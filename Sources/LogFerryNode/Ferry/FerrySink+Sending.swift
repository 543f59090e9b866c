import LogFerrySpool
import LogFerryWire
import NIOCore

extension FerrySink {
    /// Sends records after `resumeAfter` as the window allows, each with its origin, merged (`--rebatch`)
    /// or cut to the upstream's limits.
    func send(
        after resumeAfter: UInt64,
        session: FerryClientSession,
        limits: WireLimits,
        outbound: NIOAsyncChannelOutboundWriter<Frame>,
        eventLoop: any EventLoop,
        upstream: Upstream,
        replay: FerryReplayProgress?
    ) async throws {
        let reader = spool.makeReader(from: resumeAfter + 1)
        var splitter = BatchSplitter(limits: limits)
        var rebatcher = configuration.rebatch ? Rebatcher(limits: limits) : nil
        var carried: (SpoolRecord, SealedBatch, OriginCoverage)?
        while true {
            try await session.waitForSpace()
            let next: (SpoolRecord, SealedBatch, OriginCoverage)?
            if let held = carried {
                next = held
                carried = nil
            } else {
                next = try await readRecord(reader, session: session)
            }
            guard case (let record, var sealed, var coverage)? = next else { return }
            var sequence = record.sequence
            if var merger = rebatcher {
                // Merge what is already waiting behind this record; stop at the first that does not fit.
                merger.start(record, sealed, coverage: coverage)
                while let following = try await readRecord(reader, session: session, waiting: false) {
                    guard (try? merger.absorb(following.0, following.1, coverage: following.2)) == true else {
                        carried = following
                        break
                    }
                }
                sequence = merger.lastSequence
                coverage = merger.coverage ?? coverage
                sealed = try merger.seal()
                rebatcher = merger
            }
            let frames: [BatchFrame]
            do {
                // Cut to what the link moves in a quarter of the progress timeout, and as a refusal asked.
                let forLink = await session.link.parts(for: sealed.compressed.count, within: configuration.progressTimeout / 4)
                let minimumParts = max(await progress.minimumParts(for: sequence), forLink)
                frames = try splitter.frames(for: sealed, coverage: coverage, sequence: sequence, minimumParts: minimumParts)
                if forLink > 1, frames.count > 1 { metrics.framesCutForLink.increment() }
            } catch {
                quarantine(SpoolRecord(sequence: sequence, metadata: [], payload: sealed.serialized()),
                           reason: "cannot be split to the upstream's limits: \(error)")
                try await skip(sequence, session: session)
                continue
            }
            try await session.send(sequence, bytes: frames.reduce(0) { $0 + $1.batch.compressed.count })
            if let rate = await session.link.bytesPerSecond { metrics.linkRate.record(rate) }
            if let replay { await replay.sent(sequence) }
            for frame in frames {
                try await outbound.write(.batch(frame))
                metrics.batchesOut.increment()
                metrics.bytesOut.increment(by: Int64(frame.batch.compressed.count))
                metrics.eventsOut.increment(by: Int64(frame.batch.eventCount))
            }
            // Let the event loop take the frames before reading the next record. The writer stops taking
            // frames only once the channel says it is full, which the loop says only after it has written them:
            // reading ahead of it queued up to 13 records (3 MB of an agent's 30) while a backlog drained.
            try await eventLoop.submit {}.get()
        }
    }

    /// The next record with its sealed batch and origin; a record that does not read is quarantined and
    /// skipped. With `waiting` false, nil means nothing is stored yet.
    private func readRecord(
        _ reader: SpoolReader, session: FerryClientSession, waiting: Bool = true
    ) async throws -> (SpoolRecord, SealedBatch, OriginCoverage)? {
        while true {
            guard let record = waiting ? try await reader.next() : try await reader.nextIfAvailable() else { return nil }
            do {
                let sealed = try SealedBatch(serialized: record.payload)
                let metadata = try RecordMetadata(decoding: record.metadata)
                let coverage = OriginCoverage.of(
                    sequence: record.sequence, metadata: metadata, eventCount: sealed.eventCount, spoolID: spool.id)
                return (record, sealed, coverage)
            } catch {
                quarantine(record, reason: "unreadable in the local spool: \(error)")
                try await skip(record.sequence, session: session)
            }
        }
    }

    /// Resolves a record that will not be sent, committing the cursor past it when nothing waits before it.
    private func skip(_ sequence: UInt64, session: FerryClientSession) async throws {
        if let point = await session.resolved(sequence) {
            await progress.advance(to: point)
            try await spool.commit(cursor: configuration.cursorName, through: point)
        }
    }
}
