import LogFerrySpool
import LogFerryWire

/// Admits a received batch into the spool, deduplicating by origin: the one path by which a ferry listener
/// session and the NATS JetStream source store what they receive.
///
/// Admission is serialised across every session of one ``UpstreamRegistry`` (check what is missing, write it,
/// note it held), so two copies of one batch arriving at once are written once. A copy of something still being
/// written waits for that write's durability before it is acknowledged.
enum OriginAdmission {
    /// What admission did with a batch.
    enum Outcome: Sendable {
        /// Everything it covers was held already; nothing written.
        case duplicate
        /// Written whole.
        case stored
        /// Part of it was held; the rest was written as this many events.
        case trimmed(events: Int)
    }

    /// Stores what of `batch` (covering `coverage`, received as `position` from a ferry peer, nil from elsewhere)
    /// the registry does not hold yet. Returns the write to wait for before acknowledging (nil: everything it
    /// covers is already durable) and what was done.
    static func admit(
        _ batch: SealedBatch, coverage: OriginCoverage, position: UpstreamPosition?,
        registry: UpstreamRegistry, spool: Spool, decoder: inout BatchDecoder
    ) async throws -> (pending: SpoolPendingAppend?, outcome: Outcome) {
        await registry.beginAdmission()
        do {
            let result: (SpoolPendingAppend?, Outcome)
            switch await registry.missing(coverage) {
            case .nothing:
                result = (await registry.lastPending, .duplicate)
            case .everything:
                let metadata = RecordMetadata(upstream: position, origin: coverage).encoded()
                let written = try await spool.enqueue(parts: batch.serializedParts(), metadata: metadata)
                await registry.held([coverage], pending: written)
                result = (written, .stored)
            case .some(let pieces):
                // Part of it came another way (two relays cut or merged differently): store only the rest.
                let parts = try OriginTrimmer.trim(batch, coverage: coverage, keeping: pieces, decoder: &decoder)
                var last: SpoolPendingAppend?
                var events = 0
                for (index, part) in parts.enumerated() {
                    let isLast = index == parts.count - 1
                    let metadata = RecordMetadata(upstream: isLast ? position : nil, origin: part.coverage).encoded()
                    last = try await spool.enqueue(parts: part.sealed.serializedParts(), metadata: metadata)
                    await registry.held([part.coverage], pending: last)
                    events += Int(part.sealed.eventCount)
                }
                result = (last, .trimmed(events: events))
            }
            await registry.endAdmission()
            return result
        } catch {
            await registry.endAdmission()
            throw error
        }
    }
}
