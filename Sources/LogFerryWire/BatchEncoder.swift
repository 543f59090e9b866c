import LogFerryBytes
import LogFerryDeflate

/// Seals batches: encodes the events (Docs/PROTOCOL.md §Batch body), compresses them into a zlib stream
/// (RFC 1950, whichever ``DeflateBackend`` does it) and checksums the result with CRC32C.
///
/// It keeps its compressor (allocated once) and its buffers, so encoding a steady stream of batches does
/// not grow memory. Not thread-safe: use one encoder per task.
public struct BatchEncoder {
    private let deflater: DeflateCompressor
    private var body: [UInt8] = []
    private var output: [UInt8] = []

    /// The compression level in use, clamped to 0...9 and then into the backend's levels (ISA-L has 0...3);
    /// 1 is the default and fastest.
    public let level: Int

    /// The library that compresses; any zlib inflates its output.
    public var compressor: DeflateBackend { deflater.backend }

    /// Creates an encoder compressing with `compressor` at `level` (clamped to 0...9, then into the
    /// backend's levels).
    public init(level: Int = 1, compressor: DeflateBackend = .isal) {
        deflater = DeflateCompressor(backend: compressor, level: min(max(level, 0), 9))
        self.level = deflater.level
    }

    /// Encodes and compresses `batch`.
    ///
    /// - Throws: ``WireError/Kind/tooManyEvents(count:limit:)`` or
    ///   ``WireError/Kind/uncompressedTooLarge(size:limit:)`` when the batch cannot be described by the u32
    ///   header fields; ``WireError/Kind/zlib(code:message:)`` when the compressor fails (out of memory).
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
        let worstFrame = UInt64(1 + BatchFrame.fixedBodySize + BatchOrigin.minimumWireSize) + UInt64(DeflateCompressor.worstCaseSize(body.count))
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

    /// Finishes the body `builder` holds for `host` and compresses it, leaving the builder empty for the next
    /// batch. The same bytes as ``encode(_:)`` of the same events, without an ``Event`` per line.
    public mutating func encode(_ builder: inout BatchBodyBuilder, host: String) throws(WireError) -> SealedBatch {
        let eventCount = builder.eventCount
        return try builder.finish(host: host) { (body) throws(WireError) -> SealedBatch in
            try compress(body, eventCount: eventCount)
        }
    }

    private mutating func seal(host: String, events: ArraySlice<Event>) throws(WireError) -> SealedBatch {
        body.removeAll(keepingCapacity: true)
        BatchBody.write(host: host, events: events, into: &body)
        return try compressBody(eventCount: events.count)
    }

    /// Compresses the body in `body` into a sealed batch.
    private mutating func compressBody(eventCount: Int) throws(WireError) -> SealedBatch {
        let body = self.body
        let sealed: Result<SealedBatch, WireError> = body.withUnsafeBytes { input in
            Result { () throws(WireError) -> SealedBatch in try compress(input, eventCount: eventCount) }
        }
        return try sealed.get()
    }

    /// Compresses `body`, holding `eventCount` events, into a sealed batch.
    private mutating func compress(_ body: UnsafeRawBufferPointer, eventCount: Int) throws(WireError) -> SealedBatch {
        guard eventCount <= Int(UInt32.max) else {
            throw WireError(.tooManyEvents(count: UInt32.max, limit: UInt32.max))
        }
        guard body.count <= Int(UInt32.max) else {
            throw WireError(.uncompressedTooLarge(size: UInt32.max, limit: UInt32.max))
        }
        let bound = deflater.outputCapacity(body.count)
        if output.count < bound {
            // Not zero-filled: the compressor writes a quarter of it, and only the pages it writes become resident.
            output = [UInt8](unsafeUninitializedCapacity: bound) { _, initialized in initialized = bound }
        }
        let deflater = self.deflater
        let produced: Result<Int, WireError> = output.withUnsafeMutableBytes { out in
            do throws(DeflateError) {
                return .success(try deflater.compress(body, into: UnsafeMutableRawBufferPointer(rebasing: out[..<bound])))
            } catch {
                return .failure(WireError(deflate: error))
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
