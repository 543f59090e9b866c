import LogFerrySpool
import Logging

extension Spool {
    /// Appends, waiting out a full disk: a `.noSpace` failure is logged once and retried every second until
    /// the append succeeds (or the task is cancelled), so a source keeps its batch and the node keeps running.
    /// Any other error is thrown. The record's metadata gets its seal time (for `--replay-since`).
    /// The payload comes in parts stored back to back (`SealedBatch.serializedParts()`), not joined first.
    func appendWaitingForSpace(parts payload: [[UInt8]], metadata: [UInt8] = [], logger: Logger) async throws -> SpoolAppendResult {
        var warned = false
        let metadata = RecordMetadata.stamped(metadata, sealedBy: id)
        while true {
            do {
                return try await append(parts: payload, metadata: metadata)
            } catch let error as SpoolError where error.kind == .noSpace {
                if !warned {
                    logger.error("\(error) Waiting for space; retrying every second.")
                    warned = true
                }
                try await Task.sleep(for: .seconds(1))
            }
        }
    }
}
