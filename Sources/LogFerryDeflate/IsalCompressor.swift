import CIsal

/// ISA-L's one-shot (`isal_deflate_stateless`) compressor in the zlib wrapper, with its level buffer
/// allocated once (at its first use).
///
/// The `isal_zstream` is large (its internal state holds the hash tables of level 0) and lives at a fixed
/// heap address for the compressor's lifetime.
final class IsalCompressor {
    private let stream: UnsafeMutablePointer<isal_zstream>
    /// Allocated at the first call: an encoder kept only in case a batch must be split never pays for it.
    private var levelBuffer: UnsafeMutableRawBufferPointer?
    private let level: UInt32

    init(level: Int) {
        self.level = UInt32(min(max(level, 0), Int(logferry_isal_max_level())))
        stream = .allocate(capacity: 1)
        stream.initialize(to: isal_zstream())
    }

    deinit {
        stream.deinitialize(count: 1)
        stream.deallocate()
        levelBuffer?.deallocate()
    }

    /// Output room ISA-L needs for `count` bytes: when compression does not pay, it writes stored blocks
    /// (5 bytes per 64 KiB) inside the zlib header and trailer.
    static func bound(_ count: Int) -> Int {
        count + 5 * (count / 65_535 + 2) + 64
    }

    func compress(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DeflateError) -> Int {
        guard let outBase = output.baseAddress, output.count > 0 else {
            throw .failed(backend: "isal", code: STATELESS_OVERFLOW, detail: "no output buffer")
        }
        let levelBuffer = self.levelBuffer ?? {
            let size = Int(logferry_isal_level_buffer_size(Int32(level)))
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: max(size, 1), alignment: 64)
            self.levelBuffer = buffer
            return buffer
        }()
        var empty: UInt8 = 0
        return try withUnsafeMutablePointer(to: &empty) { (emptyPointer) throws(DeflateError) -> Int in
            isal_deflate_stateless_init(stream)
            // The level buffer holds the match finder's hash table, which ISA-L does not clear between stateless
            // calls: stale entries still give valid streams (matches are checked byte for byte), but different
            // bytes for the same input depending on what was compressed before. Clearing it keeps the output a
            // function of the input alone (about 10 µs per 1 MiB batch).
            levelBuffer.initializeMemory(as: UInt8.self, repeating: 0)
            stream.pointee.level = level
            stream.pointee.level_buf = levelBuffer.baseAddress?.assumingMemoryBound(to: UInt8.self)
            stream.pointee.level_buf_size = UInt32(levelBuffer.count)
            stream.pointee.gzip_flag = UInt16(IGZIP_ZLIB)
            stream.pointee.end_of_stream = 1
            stream.pointee.flush = UInt16(NO_FLUSH)
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self)) ?? emptyPointer
            stream.pointee.avail_in = UInt32(input.count)
            stream.pointee.next_out = outBase.assumingMemoryBound(to: UInt8.self)
            stream.pointee.avail_out = UInt32(clamping: output.count)
            defer {
                stream.pointee.next_in = nil
                stream.pointee.next_out = nil
            }
            let status = isal_deflate_stateless(stream)
            guard status == COMP_OK else { throw Self.error(status) }
            guard stream.pointee.avail_in == 0 else {
                throw .failed(backend: "isal", code: status, detail: "input left over after the end of the stream")
            }
            return Int(stream.pointee.total_out)
        }
    }

    private static func error(_ status: Int32) -> DeflateError {
        let detail = switch status {
        case STATELESS_OVERFLOW: "output buffer too small"
        case ISAL_INVALID_LEVEL: "invalid compression level"
        case ISAL_INVALID_LEVEL_BUF: "level buffer too small"
        case INVALID_FLUSH: "invalid flush"
        case INVALID_PARAM: "invalid parameter"
        default: "isal_deflate_stateless failed"
        }
        return .failed(backend: "isal", code: status, detail: detail)
    }
}
