import CLibdeflate

/// A libdeflate compressor at one level, allocated once.
final class LibdeflateCompressor {
    private let compressor: OpaquePointer?

    init(level: Int) {
        compressor = libdeflate_alloc_compressor(Int32(min(max(level, 0), 12)))
    }

    deinit {
        libdeflate_free_compressor(compressor)
    }

    /// libdeflate's own worst case for `count` bytes in the zlib wrapper.
    func bound(_ count: Int) -> Int {
        libdeflate_zlib_compress_bound(compressor, count)
    }

    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DeflateError) -> Int {
        guard let compressor else { throw .outOfMemory(backend: "libdeflate") }
        guard let outBase = output.baseAddress, output.count > 0 else {
            throw .failed(backend: "libdeflate", code: 0, detail: "no output buffer")
        }
        var empty: UInt8 = 0
        let produced = withUnsafeBytes(of: &empty) { emptyBuffer in
            libdeflate_zlib_compress(compressor, input.baseAddress ?? emptyBuffer.baseAddress, input.count, outBase, output.count)
        }
        guard produced > 0 else {
            throw .failed(backend: "libdeflate", code: 0, detail: "output buffer of \(output.count) bytes too small for \(input.count) bytes")
        }
        return produced
    }
}
