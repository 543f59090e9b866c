import LogFerryBytes

/// Seals batches: encodes the events (Docs/PROTOCOL.md §Batch body), compresses them with zlib and
/// checksums the result with CRC32C.
///
/// It keeps its `z_stream` (reset per batch) and its buffers, so encoding a steady stream of batches does
/// not grow memory. Not thread-safe: use one encoder per task.
public struct BatchEncoder {
    private let deflater: Deflater
    private var body: [UInt8] = []
    private var output: [UInt8] = []

    /// The zlib level, 0 (store) to 9 (smallest); 1 is the default and fastest.
    public let level: Int

    /// Creates an encoder compressing at `level` (clamped to 0...9).
    public init(level: Int = 1) {
        self.level = min(max(level, 0), 9)
        deflater = Deflater(level: self.level)
    }

    /// Encodes and compresses `batch`.
    ///
    /// - Throws: ``WireError/Kind/tooManyEvents(count:limit:)`` or
    ///   ``WireError/Kind/uncompressedTooLarge(size:limit:)`` when the batch cannot be described by the u32
    ///   header fields; ``WireError/Kind/zlib(code:message:)`` when zlib fails (out of memory).
    public mutating func encode(_ batch: Batch) throws(WireError) -> SealedBatch {
        try seal(host: batch.host, events: batch.events[...])
    }

    /// Encodes `batch` as one sealed batch if it fits `limits`, else splits it into parts that each fit.
    ///
    /// The split depends only on the events and the limits, never on zlib's output, so after a reconnect
    /// the same batch splits the same way. It halves the
    /// event list until every part has at most `maxEventsPerBatch` events, a body of at most
    /// `maxUncompressedBytes` and a worst-case compressed frame of at most `maxFrameBytes`.
    ///
    /// - Throws: ``WireError/Kind/eventTooLarge(bytes:limit:)`` when one event alone cannot fit.
    public mutating func encodeParts(_ batch: Batch, fitting limits: WireLimits) throws(WireError) -> [SealedBatch] {
        var parts: [SealedBatch] = []
        try split(host: batch.host, events: batch.events[...], limits: limits, into: &parts)
        guard parts.count <= Int(UInt16.max) else {
            throw WireError(.malformed("batch needs \(parts.count) parts to fit the receiver's limits, more than 65535"))
        }
        return parts
    }

    private mutating func split(
        host: String, events: ArraySlice<Event>, limits: WireLimits, into parts: inout [SealedBatch]
    ) throws(WireError) {
        body.removeAll(keepingCapacity: true)
        BatchBody.write(host: host, events: events, into: &body)
        let worstFrame = UInt64(1 + BatchFrame.fixedBodySize + BatchOrigin.minimumWireSize) + UInt64(deflater.bound(body.count))
        let fits = events.count <= Int(limits.maxEventsPerBatch)
            && body.count <= Int(limits.maxUncompressedBytes)
            && worstFrame <= UInt64(limits.maxFrameBytes)
        if fits {
            parts.append(try compressBody(eventCount: events.count))
            return
        }
        guard events.count > 1 else {
            throw WireError(.eventTooLarge(bytes: body.count, limit: min(limits.maxUncompressedBytes, limits.maxFrameBytes)))
        }
        let middle = events.startIndex + events.count / 2
        try split(host: host, events: events[..<middle], limits: limits, into: &parts)
        try split(host: host, events: events[middle...], limits: limits, into: &parts)
    }

    private mutating func seal(host: String, events: ArraySlice<Event>) throws(WireError) -> SealedBatch {
        body.removeAll(keepingCapacity: true)
        BatchBody.write(host: host, events: events, into: &body)
        return try compressBody(eventCount: events.count)
    }

    /// Compresses the body in `body` into a sealed batch.
    private mutating func compressBody(eventCount: Int) throws(WireError) -> SealedBatch {
        guard eventCount <= Int(UInt32.max) else {
            throw WireError(.tooManyEvents(count: UInt32.max, limit: UInt32.max))
        }
        guard body.count <= Int(UInt32.max) else {
            throw WireError(.uncompressedTooLarge(size: UInt32.max, limit: UInt32.max))
        }
        let bound = deflater.bound(body.count)
        if output.count < bound {
            output = [UInt8](repeating: 0, count: bound)
        }
        let deflater = self.deflater
        let produced: Result<Int, WireError> = body.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                do throws(WireError) {
                    return .success(try deflater.compress(input, into: UnsafeMutableRawBufferPointer(rebasing: out[..<bound])))
                } catch {
                    return .failure(error)
                }
            }
        }
        let compressed = Array(output[..<(try produced.get())])
        return SealedBatch(
            eventCount: UInt32(eventCount),
            uncompressedSize: UInt32(body.count),
            crc32c: CRC32C.checksum(compressed),
            compressed: compressed
        )
    }
}
