/// Compresses whole buffers into standard zlib streams (RFC 1950) with one backend at one level.
///
/// The backend's state (ISA-L's level buffer, libdeflate's compressor, zlib's `z_stream`) is allocated once
/// and reused for every call, so compressing a steady stream of batches allocates nothing. Not thread-safe
/// and not `Sendable`: one compressor belongs to one encoder.
public struct DeflateCompressor {
    private enum Engine {
        case isal(IsalCompressor)
        case libdeflate(LibdeflateCompressor)
        case zlib(ZlibCompressor)
    }

    private let engine: Engine

    /// The library that compresses.
    public let backend: DeflateBackend

    /// The level in use: the asked level clamped into ``DeflateBackend/levels``.
    public let level: Int

    /// Creates a compressor for `backend` at `level` (clamped into the backend's levels). Allocation
    /// failures are reported by the first ``compress(_:into:)``.
    public init(backend: DeflateBackend = .isal, level: Int = 1) {
        self.backend = backend
        self.level = min(max(level, backend.levels.lowerBound), backend.levels.upperBound)
        switch backend {
        case .isal: engine = .isal(IsalCompressor(level: self.level))
        case .libdeflate: engine = .libdeflate(LibdeflateCompressor(level: self.level))
        case .zlib: engine = .zlib(ZlibCompressor(level: self.level))
        }
    }

    /// The worst-case size of the zlib stream of `count` bytes, the same for every backend (zlib's tight
    /// bound: stored blocks plus the wrapper), so that how a batch is split to fit a frame limit never
    /// depends on the backend that compresses it.
    public static func worstCaseSize(_ count: Int) -> Int {
        count + (count >> 12) + (count >> 14) + (count >> 25) + 13
    }

    /// How many bytes ``compress(_:into:)`` needs in `output` for `count` bytes of input: at least
    /// ``worstCaseSize(_:)``, more when the backend asks for slack.
    public func outputCapacity(_ count: Int) -> Int {
        let worst = Self.worstCaseSize(count)
        switch engine {
        case .isal: return max(worst, IsalCompressor.bound(count))
        case .libdeflate(let engine): return max(worst, engine.bound(count))
        case .zlib(let engine): return max(worst, engine.bound(count))
        }
    }

    /// Compresses all of `input` as one complete zlib stream into `output`, which must hold at least
    /// ``outputCapacity(_:)`` bytes; returns how many bytes were written.
    ///
    /// - Throws: ``DeflateError/inputTooLarge(bytes:)`` past 4 GiB, ``DeflateError/outOfMemory(backend:)``
    ///   when the backend's state could not be allocated, ``DeflateError/failed(backend:code:detail:)`` on a
    ///   library failure (an output buffer smaller than asked).
    public func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DeflateError) -> Int {
        guard input.count <= Int(UInt32.max) else { throw .inputTooLarge(bytes: input.count) }
        switch engine {
        case .isal(let engine): return try engine.compress(input, into: output)
        case .libdeflate(let engine): return try engine.compress(input, into: output)
        case .zlib(let engine): return try engine.compress(input, into: output)
        }
    }

    /// Compresses all of `input` into a new array holding one complete zlib stream.
    public func compress(_ input: [UInt8]) throws(DeflateError) -> [UInt8] {
        var output = [UInt8](repeating: 0, count: outputCapacity(input.count))
        let result: Result<Int, DeflateError> = input.withUnsafeBytes { source in
            output.withUnsafeMutableBytes { destination in
                do throws(DeflateError) {
                    return .success(try compress(source, into: destination))
                } catch {
                    return .failure(error)
                }
            }
        }
        output.removeSubrange(try result.get()...)
        return output
    }
}

/// A compressor owns C state that is not safe to share: it belongs to one encoder.
@available(*, unavailable)
extension DeflateCompressor: Sendable {}
