/// Inflates whole zlib streams (RFC 1950) into buffers of exactly the declared size.
///
/// This is the zip-bomb-safe way in: nothing is ever written beyond the declared size, and a stream that
/// would produce more (``DeflateError/limitExceeded(limit:)``), fewer (``DeflateError/sizeMismatch(declared:actual:)``),
/// stops early (``DeflateError/streamNotEnded``, or ``DeflateError/corrupt(backend:code:detail:)`` where
/// the library cannot tell truncation from corruption), is followed by other bytes
/// (``DeflateError/trailingData``) or fails its Adler-32 (``DeflateError/corrupt(backend:code:detail:)``)
/// is an error. The backend's state is allocated once and reused. Not thread-safe and not `Sendable`: one
/// inflater belongs to one decoder.
public struct DeflateInflater {
    private enum Engine {
        case libdeflate(LibdeflateInflater)
        case zlib(ZlibInflater)
    }

    private let engine: Engine

    /// The library that inflates.
    public let backend: InflateBackend

    /// Deflate's largest possible expansion (258-byte matches at the cheapest code is about 1032:1), with
    /// room to spare: a declared size beyond `compressed * maximumExpansion + 1024` is a lie.
    public static let maximumExpansion = 1_100

    /// Creates an inflater for `backend`. Allocation failures are reported by the first inflate.
    public init(backend: InflateBackend = .libdeflate) {
        self.backend = backend
        switch backend {
        case .libdeflate: engine = .libdeflate(LibdeflateInflater())
        case .zlib: engine = .zlib(ZlibInflater())
        }
    }

    /// Inflates `input`, one complete zlib stream, into all of `output`, whose size is the declared
    /// uncompressed size. Nothing is written beyond `output`.
    public func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DeflateError) {
        guard input.count <= Int(UInt32.max) else { throw .inputTooLarge(bytes: input.count) }
        guard output.count <= Int(UInt32.max) else { throw .declaredSizeTooLarge(declared: output.count, limit: Int(UInt32.max)) }
        switch engine {
        case .libdeflate(let engine): try engine.inflate(input, into: output)
        case .zlib(let engine): try engine.inflate(input, into: output)
        }
    }

    /// Inflates `input` into a new array of exactly `declaredSize` bytes.
    ///
    /// The declared size is checked against `limit` and against what deflate can produce from
    /// `input.count` bytes before the array is allocated.
    public func inflate(_ input: [UInt8], declaredSize: Int, limit: Int) throws(DeflateError) -> [UInt8] {
        guard declaredSize >= 0, declaredSize <= limit else {
            throw .declaredSizeTooLarge(declared: declaredSize, limit: limit)
        }
        let possible = input.count.multipliedReportingOverflow(by: Self.maximumExpansion)
        guard possible.overflow || declaredSize <= possible.partialValue + 1024 else {
            throw .declaredSizeTooLarge(declared: declaredSize, limit: min(limit, possible.partialValue + 1024))
        }
        var output = [UInt8](repeating: 0, count: declaredSize)
        let result: Result<Void, DeflateError> = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                do throws(DeflateError) {
                    return .success(try inflate(source, into: destination))
                } catch {
                    return .failure(error)
                }
            }
        }
        try result.get()
        return output
    }
}

/// An inflater owns C state that is not safe to share: it belongs to one decoder.
@available(*, unavailable)
extension DeflateInflater: Sendable {}
