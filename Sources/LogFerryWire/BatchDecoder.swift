import LogFerryBytes

/// Opens sealed batches: checks the limits and the CRC32C, inflates with a hard cap at the declared size,
/// and parses the events.
///
/// Nothing is allocated before the declared sizes are checked against ``limits``, and inflation never
/// writes past the declared size, so a zip bomb costs at most `maxUncompressedBytes` of memory. The
/// `z_stream` and the inflate buffer are kept across batches. Not thread-safe: use one decoder per task.
public struct BatchDecoder {
    private let inflater = Inflater()
    private var buffer: [UInt8] = []

    /// The limits every batch is checked against before anything is allocated.
    public var limits: WireLimits

    /// Creates a decoder enforcing `limits`.
    public init(limits: WireLimits = .default) {
        self.limits = limits
    }

    /// Checks, inflates and parses `sealed`.
    ///
    /// - Throws: ``WireError/Kind/tooManyEvents``, ``WireError/Kind/uncompressedTooLarge``,
    ///   ``WireError/Kind/crcMismatch``, ``WireError/Kind/inflateLimitExceeded``,
    ///   ``WireError/Kind/sizeMismatch``, ``WireError/Kind/streamNotEnded``, ``WireError/Kind/trailingData``,
    ///   ``WireError/Kind/zlib``, ``WireError/Kind/truncated`` or ``WireError/Kind/malformed``.
    public mutating func decode(_ sealed: SealedBatch) throws(WireError) -> Batch {
        try open(sealed, materialize: true)
    }

    /// Does every check ``decode(_:)`` does without keeping the events: what a relay runs before storing
    /// the same sealed bytes.
    public mutating func validate(_ sealed: SealedBatch) throws(WireError) {
        _ = try open(sealed, materialize: false)
    }

    private mutating func open(_ sealed: SealedBatch, materialize: Bool) throws(WireError) -> Batch {
        guard sealed.eventCount <= limits.maxEventsPerBatch else {
            throw WireError(.tooManyEvents(count: sealed.eventCount, limit: limits.maxEventsPerBatch))
        }
        guard sealed.uncompressedSize <= limits.maxUncompressedBytes else {
            throw WireError(.uncompressedTooLarge(size: sealed.uncompressedSize, limit: limits.maxUncompressedBytes))
        }
        let crc = CRC32C.checksum(sealed.compressed)
        guard crc == sealed.crc32c else { throw WireError(.crcMismatch(declared: sealed.crc32c, actual: crc)) }

        let size = Int(sealed.uncompressedSize)
        if buffer.count < size {
            buffer = [UInt8](repeating: 0, count: size)
        }
        let inflater = self.inflater
        let result: Result<Batch, WireError> = sealed.compressed.withUnsafeBytes { input in
            buffer.withUnsafeMutableBytes { whole in
                do throws(WireError) {
                    let output = UnsafeMutableRawBufferPointer(rebasing: whole[..<size])
                    try inflater.inflate(input, into: output)
                    return .success(try BatchBody.parse(
                        UnsafeRawBufferPointer(output), expectedEvents: sealed.eventCount, materialize: materialize))
                } catch {
                    return .failure(error)
                }
            }
        }
        return try result.get()
    }
}
