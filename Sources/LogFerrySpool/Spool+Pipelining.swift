/// An append that has been written but whose durability has not been awaited yet.
///
/// A ferry listener writes each batch as it arrives and waits for durability in a second task, so batches
/// that arrive during an fsync join the next group commit instead of queueing behind it.
public struct SpoolPendingAppend: Sendable, Equatable {
    /// What the append did: stored under a sequence, or dropped by `drop-newest`.
    public let result: SpoolAppendResult
}

extension Spool {
    /// Writes a record without waiting for its fsync; `waitUntilDurable(_:)` waits. Records are written in
    /// call order. Capacity policies and errors are those of `append(_:metadata:)`.
    public func enqueue(_ payload: [UInt8], metadata: [UInt8] = []) async throws -> SpoolPendingAppend {
        try await enqueue(parts: [payload], metadata: metadata)
    }

    /// ``enqueue(_:metadata:)`` for a payload given as parts stored back to back as one; see
    /// ``append(parts:metadata:)``.
    public func enqueue(parts payload: [[UInt8]], metadata: [UInt8] = []) async throws -> SpoolPendingAppend {
        SpoolPendingAppend(result: try await write(parts: payload, metadata: metadata))
    }

    /// Returns once every record through `sequence` is on stable storage, syncing now if needed (under every
    /// fsync policy but `never`, which promises nothing across a power loss). State derived from records —
    /// file offsets in a snapshot — must not be saved ahead of the records it came from: a torn tail would
    /// take the records away and leave the offsets pointing past lines that were never shipped.
    public func waitUntilDurable(through sequence: UInt64) async throws {
        guard configuration.fsync != .never, sequence <= lastWritten else { return }
        try await waitSynced(through: sequence)
    }

    /// Returns once the record of `pending` is durable under the fsync policy (at once for `interval` and
    /// `never`, whose promise is weaker; see Docs/SPOOL.md).
    @discardableResult
    public func waitUntilDurable(_ pending: SpoolPendingAppend) async throws -> SpoolAppendResult {
        if case .stored(let sequence) = pending.result, configuration.fsync == .always {
            try await waitSynced(through: sequence)
        }
        return pending.result
    }
}
