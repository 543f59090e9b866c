import LogFerryWire

/// Cuts a sealed batch into parts that fit a receiver's announced limits.
///
/// A batch normally crosses every hop whole. When it does not fit (a relay with smaller limits, or a
/// too-large refusal), its events are cut into 2, 4, 8... contiguous groups of equal count until every
/// part fits. The parts keep the batch's sequence and are numbered 0..<partCount; the receiver acks the
/// sequence once the last part is stored. The cut depends only on the batch, the limits and the
/// minimum number of parts, so a resend after a reconnect cuts the same parts.
struct BatchSplitter {
    let limits: WireLimits
    private var decoder: BatchDecoder
    private var encoder: BatchEncoder

    /// Room kept in a frame for the batch frame's own header.
    static let frameOverhead = 64

    init(limits: WireLimits) {
        self.limits = limits
        // The batch was sealed by this node's own spool, so only the codec's hard ceilings apply.
        self.decoder = BatchDecoder(limits: Self.localLimits)
        self.encoder = BatchEncoder()
    }

    /// Limits for decoding batches this node stored itself.
    static let localLimits = WireLimits(
        maxFrameBytes: UInt32.max, maxUncompressedBytes: UInt32.max, maxEventsPerBatch: UInt32.max, maxWindow: UInt32.max
    )

    /// Whether `sealed` fits the limits whole.
    func fits(_ sealed: SealedBatch) -> Bool {
        sealed.eventCount <= limits.maxEventsPerBatch
            && sealed.uncompressedSize <= limits.maxUncompressedBytes
            && UInt64(sealed.compressed.count) + UInt64(Self.frameOverhead) <= UInt64(limits.maxFrameBytes)
    }

    /// The frames that carry batch `sequence`: one when it fits, else the fewest parts (at least
    /// `minimumParts`) that each fit.
    mutating func frames(for sealed: SealedBatch, sequence: UInt64, minimumParts: Int = 1) throws -> [BatchFrame] {
        if minimumParts <= 1, fits(sealed) {
            return [BatchFrame(sequence: sequence, part: 0, partCount: 1, batch: sealed)]
        }
        let batch = try decoder.decode(sealed)
        var parts = max(minimumParts, 2)
        while true {
            guard parts <= batch.events.count, parts <= Int(UInt16.max) else {
                throw BatchSplitError(sequence: sequence, events: batch.events.count, limits: limits)
            }
            let size = (batch.events.count + parts - 1) / parts
            var sealedParts: [SealedBatch] = []
            var allFit = true
            var start = 0
            while start < batch.events.count {
                let end = min(start + size, batch.events.count)
                let part = try encoder.encode(Batch(host: batch.host, events: Array(batch.events[start..<end])))
                if !fits(part) { allFit = false; break }
                sealedParts.append(part)
                start = end
            }
            if allFit {
                let count = UInt16(sealedParts.count)
                return sealedParts.enumerated().map { index, part in
                    BatchFrame(sequence: sequence, part: UInt16(index), partCount: count, batch: part)
                }
            }
            parts *= 2
        }
    }
}

/// A batch that cannot be cut to fit: a single event is larger than the receiver accepts.
struct BatchSplitError: Error, CustomStringConvertible {
    var sequence: UInt64
    var events: Int
    var limits: WireLimits

    var description: String {
        "batch \(sequence) (\(events) events) cannot be cut to fit the receiver's limits (\(limits.maxUncompressedBytes) bytes uncompressed, \(limits.maxFrameBytes) bytes a frame): one event is larger; raise the receiver's limits"
    }
}
