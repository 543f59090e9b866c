/// A sealed batch already checked and inflated: its body, kept so that a later reader of the same batch
/// does not inflate it again.
///
/// A receiver inflates every batch to check it before acknowledging; its file sink writes the same batch
/// a moment later. Handing the body over makes that one inflate instead of two
/// (``BatchDecoder/validate(_:keepingBody:)`` and ``BatchDecoder/scan(_:inflated:fields:tables:event:)``).
public struct InflatedBatch: Sendable {
    /// The uncompressed batch body.
    public let body: [UInt8]
    /// The event count the sealed batch declares.
    public let eventCount: UInt32
    /// The CRC32C of the compressed bytes it came from: ties the body to exactly that sealed batch.
    public let crc32c: UInt32

    /// Whether this is the body of `sealed`.
    public func belongs(to sealed: SealedBatch) -> Bool {
        belongs(to: sealed.header)
    }

    /// Whether this is the body of the sealed batch with this header.
    public func belongs(to header: SealedBatch.Header) -> Bool {
        header.crc32c == crc32c && header.eventCount == eventCount && Int(header.uncompressedSize) == body.count
    }
}
