import LogFerryBytes
import LogFerryDeflate

/// Opens sealed batches: checks the limits and the CRC32C, inflates with a hard cap at the declared size,
/// and parses the events.
///
/// Nothing is allocated before the declared sizes are checked against ``limits``, and inflation never
/// writes past the declared size, so a zip bomb costs at most `maxUncompressedBytes` of memory. The
/// inflater (libdeflate by default, zlib on request) and the inflate buffer are kept across batches. Not
/// thread-safe: use one decoder per task.
public struct BatchDecoder {
    private let inflater: DeflateInflater
    private var buffer: [UInt8] = []
    /// Deflate's largest possible expansion (258-byte matches at the cheapest code), with room to spare.
    static let maximumExpansion: UInt64 = 1_100
    /// Inflate buffers up to this size are kept for the next batch; larger ones are given back, so an idle
    /// session of a listener with thousands holds at most this much for inflating.
    static let keptBufferBytes = 256 << 10

    /// The limits every batch is checked against before anything is allocated.
    public var limits: WireLimits

    /// The library that inflates.
    public var inflaterBackend: InflateBackend { inflater.backend }

    /// Creates a decoder enforcing `limits`, inflating with `inflater`.
    public init(limits: WireLimits = .default, inflater: InflateBackend = .libdeflate) {
        self.limits = limits
        self.inflater = DeflateInflater(backend: inflater)
    }

    /// Checks, inflates and parses `sealed`.
    ///
    /// - Throws: ``WireError/Kind/tooManyEvents(count:limit:)``,
    ///   ``WireError/Kind/uncompressedTooLarge(size:limit:)``, ``WireError/Kind/crcMismatch(declared:actual:)``,
    ///   ``WireError/Kind/inflateLimitExceeded(limit:)``, ``WireError/Kind/sizeMismatch(declared:actual:)``,
    ///   ``WireError/Kind/streamNotEnded``, ``WireError/Kind/trailingData``,
    ///   ``WireError/Kind/zlib(code:message:)``, ``WireError/Kind/truncated`` or ``WireError/Kind/malformed(_:)``.
    public mutating func decode(_ sealed: SealedBatch) throws(WireError) -> Batch {
        try open(sealed, materialize: true)
    }

    /// Does every check ``decode(_:)`` does without keeping the events: what a relay runs before storing
    /// the same sealed bytes. Returns the batch's origin host name.
    @discardableResult
    public mutating func validate(_ sealed: SealedBatch) throws(WireError) -> String {
        try open(sealed, materialize: false).host
    }

    /// Checks and inflates `sealed` like ``decode(_:)``, then hands `tables` the batch's host and source
    /// names and `event` every event in order as a view into the inflate buffer: the way a sink writes events
    /// out without copying each line.
    ///
    /// When this throws (a malformed body is found part-way), some events may have been visited already:
    /// discard what was built from them. With `fields` false, ``EventView/fields`` is empty.
    public mutating func scan(
        _ sealed: SealedBatch,
        fields: Bool = true,
        tables: (BatchTables) -> Void,
        event: (EventView) -> Void
    ) throws(WireError) {
        try withInflated(sealed) { body throws(WireError) in
            _ = try BatchBody.scan(body, expectedEvents: sealed.eventCount, fields: fields, tables: tables, event: event)
        }
    }

    /// ``validate(_:)`` that also returns the inflated body when `keepingBody` is true, for a reader of the
    /// same batch later on (``scan(_:inflated:fields:tables:event:)``).
    ///
    /// The kept body is inflated straight into the array handed over: no copy, and nothing of that size stays
    /// with this decoder.
    public mutating func validate(
        _ sealed: SealedBatch, keepingBody: Bool
    ) throws(WireError) -> (host: String, inflated: InflatedBatch?) {
        guard keepingBody else { return (try validate(sealed), nil) }
        try check(sealed)
        let size = Int(sealed.uncompressedSize)
        let inflater = self.inflater
        var failure: WireError?
        let body = [UInt8](unsafeUninitializedCapacity: size) { output, initialized in
            initialized = 0
            do throws(WireError) {
                try Self.inflate(sealed, with: inflater, into: UnsafeMutableRawBufferPointer(output))
                initialized = size
            } catch {
                failure = error
            }
        }
        if let failure { throw failure }
        let parsed: Result<String, WireError> = body.withUnsafeBytes { bytes in
            do throws(WireError) {
                return .success(try BatchBody.parse(bytes, expectedEvents: sealed.eventCount, materialize: false).host)
            } catch {
                return .failure(error)
            }
        }
        return (try parsed.get(), InflatedBatch(body: body, eventCount: sealed.eventCount, crc32c: sealed.crc32c))
    }

    /// ``scan(_:fields:tables:event:)`` over a body inflated before: when `inflated` belongs to `sealed`,
    /// the body is parsed and checked again but not inflated; otherwise `sealed` is inflated as usual.
    public mutating func scan(
        _ sealed: SealedBatch,
        inflated: InflatedBatch?,
        fields: Bool = true,
        tables: (BatchTables) -> Void,
        event: (EventView) -> Void
    ) throws(WireError) {
        guard let inflated, inflated.belongs(to: sealed) else {
            return try scan(sealed, fields: fields, tables: tables, event: event)
        }
        try scan(inflated, fields: fields, tables: tables, event: event)
    }

    /// ``scan(_:fields:tables:event:)`` over a body inflated before, for a reader that holds only the sealed
    /// batch's ``SealedBatch/Header`` and has checked that `inflated` belongs to it: the body is parsed and checked
    /// again, and the compressed bytes are not needed at all.
    public func scan(
        _ inflated: InflatedBatch,
        fields: Bool = true,
        tables: (BatchTables) -> Void,
        event: (EventView) -> Void
    ) throws(WireError) {
        let result: Result<Void, WireError> = inflated.body.withUnsafeBytes { body in
            do throws(WireError) {
                _ = try BatchBody.scan(body, expectedEvents: inflated.eventCount, fields: fields, tables: tables, event: event)
                return .success(())
            } catch {
                return .failure(error)
            }
        }
        try result.get()
    }

    private mutating func open(_ sealed: SealedBatch, materialize: Bool) throws(WireError) -> Batch {
        try withInflated(sealed) { body throws(WireError) in
            try BatchBody.parse(body, expectedEvents: sealed.eventCount, materialize: materialize)
        }
    }

    /// Checks the limits and the CRC, inflates `sealed` into the kept buffer and runs `body` on the result.
    private mutating func withInflated<T>(
        _ sealed: SealedBatch, _ body: (UnsafeRawBufferPointer) throws(WireError) -> T
    ) throws(WireError) -> T {
        try check(sealed)
        let size = Int(sealed.uncompressedSize)
        if buffer.count < size {
            buffer = [UInt8](repeating: 0, count: size)
        }
        // A big batch's buffer is not kept for the next one: a session must not pin memory while idle.
        defer { if buffer.count > Self.keptBufferBytes { buffer = [] } }
        let inflater = self.inflater
        let result: Result<T, WireError> = buffer.withUnsafeMutableBytes { whole in
            do throws(WireError) {
                let output = UnsafeMutableRawBufferPointer(rebasing: whole[..<size])
                try Self.inflate(sealed, with: inflater, into: output)
                return .success(try body(UnsafeRawBufferPointer(output)))
            } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Checks the declared sizes against ``limits`` and against what the compressed bytes can hold, and the
    /// CRC32C: everything that must pass before memory of the declared size is allocated.
    private func check(_ sealed: SealedBatch) throws(WireError) {
        guard sealed.eventCount <= limits.maxEventsPerBatch else {
            throw WireError(.tooManyEvents(count: sealed.eventCount, limit: limits.maxEventsPerBatch))
        }
        guard sealed.uncompressedSize <= limits.maxUncompressedBytes else {
            throw WireError(.uncompressedTooLarge(size: sealed.uncompressedSize, limit: limits.maxUncompressedBytes))
        }
        // Deflate cannot expand more than about 1032:1, so a declared size beyond that is a lie; refusing it
        // here means memory follows the bytes that actually arrived, never a claim (a 58-byte frame cannot
        // make us allocate 64 MiB).
        let possible = UInt64(sealed.compressed.count) * Self.maximumExpansion + 1024
        guard UInt64(sealed.uncompressedSize) <= possible else {
            throw WireError(.malformed(
                "batch declares \(sealed.uncompressedSize) bytes uncompressed from \(sealed.compressed.count) compressed, more than deflate can produce"))
        }
        let crc = CRC32C.checksum(sealed.compressed)
        guard crc == sealed.crc32c else { throw WireError(.crcMismatch(declared: sealed.crc32c, actual: crc)) }
    }

    /// Inflates `sealed` into `output`, exactly its declared size.
    private static func inflate(
        _ sealed: SealedBatch, with inflater: DeflateInflater, into output: UnsafeMutableRawBufferPointer
    ) throws(WireError) {
        let result: Result<Void, WireError> = sealed.compressed.withUnsafeBytes { input in
            do throws(DeflateError) {
                try inflater.inflate(input, into: output)
                return .success(())
            } catch {
                return .failure(WireError(deflate: error))
            }
        }
        try result.get()
    }
}
