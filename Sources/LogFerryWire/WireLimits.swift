/// The limits a receiver announces in its hello and enforces before allocating anything.
///
/// A sender must not exceed them: a batch that would is split with ``BatchEncoder/encodeParts(_:fitting:)``.
public struct WireLimits: Sendable, Hashable {
    /// The largest frame accepted, counting the type byte and the body (not the 4-byte length itself).
    public var maxFrameBytes: UInt32
    /// The largest uncompressed batch body accepted; inflation stops here.
    public var maxUncompressedBytes: UInt32
    /// The most events accepted in one batch.
    public var maxEventsPerBatch: UInt32
    /// The most batch frames a sender may have unacknowledged at once.
    public var maxWindow: UInt32

    /// Creates limits from their parts.
    public init(maxFrameBytes: UInt32, maxUncompressedBytes: UInt32, maxEventsPerBatch: UInt32, maxWindow: UInt32) {
        self.maxFrameBytes = maxFrameBytes
        self.maxUncompressedBytes = maxUncompressedBytes
        self.maxEventsPerBatch = maxEventsPerBatch
        self.maxWindow = maxWindow
    }

    /// 8 MiB frames, 64 MiB uncompressed, 1,048,576 events per batch, 32 batches in flight.
    public static let `default` = WireLimits(
        maxFrameBytes: 8 << 20,
        maxUncompressedBytes: 64 << 20,
        maxEventsPerBatch: 1 << 20,
        maxWindow: 32
    )

    /// Throws the error a receiver with these limits would refuse `sealed` for (``RefusalCode/tooLarge``), if any.
    ///
    /// A sender calls this before sending so it can split instead of being refused.
    public func check(_ sealed: SealedBatch, origin: BatchOrigin? = nil) throws(WireError) {
        if sealed.eventCount > maxEventsPerBatch {
            throw WireError(.tooManyEvents(count: sealed.eventCount, limit: maxEventsPerBatch))
        }
        if sealed.uncompressedSize > maxUncompressedBytes {
            throw WireError(.uncompressedTooLarge(size: sealed.uncompressedSize, limit: maxUncompressedBytes))
        }
        let originBytes = UInt64(origin?.wireSize ?? BatchOrigin.minimumWireSize)
        let frameBytes = UInt64(BatchFrame.fixedBodySize) + 1 + originBytes + UInt64(sealed.compressed.count)
        if frameBytes > UInt64(maxFrameBytes) {
            throw WireError(.frameTooLarge(length: UInt32(clamping: frameBytes), limit: maxFrameBytes))
        }
    }

    /// Whether a receiver with these limits takes `sealed` in one frame.
    public func admits(_ sealed: SealedBatch, origin: BatchOrigin? = nil) -> Bool {
        do {
            try check(sealed, origin: origin)
            return true
        } catch {
            return false
        }
    }
}
