import CLibdeflate

/// A libdeflate decompressor, allocated once, inflating whole zlib streams with
/// `libdeflate_zlib_decompress_ex`, which never writes past the output buffer and reports the bytes it
/// used and produced, so a short stream and trailing bytes are each told apart.
///
/// libdeflate reads a cut stream as if zero bits followed, so a truncated stream can look like corrupt
/// data or even like one that inflates past its size. When it refuses a stream, zlib (allocated on the
/// first refusal only) inflates the same bytes to name the error the way every inflater names it:
/// truncated, a bomb, or corrupt. A stream libdeflate refuses stays refused.
final class LibdeflateInflater {
    private let decompressor: OpaquePointer?
    private var reference: ZlibInflater?

    init() {
        decompressor = libdeflate_alloc_decompressor()
    }

    deinit {
        libdeflate_free_decompressor(decompressor)
    }

    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DeflateError) {
        guard let decompressor else { throw .outOfMemory(backend: "libdeflate") }
        var used = 0
        var produced = 0
        var spare: (UInt8, UInt8) = (0, 0)
        let result = withUnsafeMutableBytes(of: &spare) { spareBuffer in
            libdeflate_zlib_decompress_ex(
                decompressor,
                input.baseAddress ?? UnsafeRawPointer(spareBuffer.baseAddress), input.count,
                output.baseAddress ?? spareBuffer.baseAddress, output.count,
                &used, &produced)
        }
        switch result {
        case LIBDEFLATE_SUCCESS:
            guard produced == output.count else { throw .sizeMismatch(declared: output.count, actual: produced) }
            guard used == input.count else { throw .trailingData }
        case LIBDEFLATE_INSUFFICIENT_SPACE:
            throw diagnose(.limitExceeded(limit: output.count), input, output)
        case LIBDEFLATE_SHORT_OUTPUT:
            throw .sizeMismatch(declared: output.count, actual: produced)
        case LIBDEFLATE_BAD_DATA:
            throw diagnose(.corrupt(backend: "libdeflate", code: Int32(bitPattern: result.rawValue),
                                    detail: "invalid, truncated or checksum-failing zlib data"), input, output)
        default:
            throw .failed(backend: "libdeflate", code: Int32(bitPattern: result.rawValue), detail: "unexpected result")
        }
    }

    /// The error zlib gives for the stream libdeflate refused with `refusal`, or `refusal` itself if zlib
    /// takes the stream or fails for want of memory. The output buffer is scratch by now; zlib writes no
    /// further than libdeflate could.
    private func diagnose(
        _ refusal: DeflateError, _ input: UnsafeRawBufferPointer, _ output: UnsafeMutableRawBufferPointer
    ) -> DeflateError {
        let reference = self.reference ?? ZlibInflater()
        self.reference = reference
        do {
            try reference.inflate(input, into: output)
            return refusal
        } catch .corrupt(_, let code, let detail) {
            return .corrupt(backend: "libdeflate", code: code, detail: detail)
        } catch .outOfMemory, .failed {
            return refusal
        } catch let diagnosis {
            return diagnosis
        }
    }
}
