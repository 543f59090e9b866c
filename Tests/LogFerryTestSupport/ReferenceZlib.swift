import CZlib

/// Plain zlib, called directly: the reference the deflate backends and the batch codec are checked against, and
/// the maker of hostile streams (bombs, streams that are not batch bodies).
public enum ReferenceZlib {
    /// Compresses `total` zero bytes by streaming a 1 MiB zero buffer through deflate, so a 1 GiB bomb
    /// never needs 1 GiB of memory.
    public static func deflateZeros(total: Int, level: Int32 = 9) -> [UInt8] {
        // zlib's state points back at the z_stream, so it needs a fixed address.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        precondition(logferry_deflateInit2(stream, level, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY) == Z_OK)
        defer {
            deflateEnd(stream)
            stream.deallocate()
        }
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        var output = [UInt8](repeating: 0, count: 1 << 16)
        var compressed: [UInt8] = []
        var remaining = total
        chunk.withUnsafeBytes { input in
            repeat {
                let count = min(remaining, chunk.count)
                remaining -= count
                let flush = remaining == 0 ? Z_FINISH : Z_NO_FLUSH
                stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
                stream.pointee.avail_in = uInt(count)
                var status: Int32
                repeat {
                    status = output.withUnsafeMutableBytes { out in
                        stream.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                        stream.pointee.avail_out = uInt(out.count)
                        return deflate(stream, flush)
                    }
                    compressed.append(contentsOf: output[..<(output.count - Int(stream.pointee.avail_out))])
                } while stream.pointee.avail_out == 0 || (flush == Z_FINISH && status != Z_STREAM_END)
            } while remaining > 0
        }
        return compressed
    }

    /// Plain zlib compression of `bytes` at `level`.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        var length = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(length))
        let status = compress2(&out, &length, bytes, uLong(bytes.count), level)
        precondition(status == Z_OK)
        return Array(out[..<Int(length)])
    }
}

extension ReferenceZlib {
    /// Plain zlib decompression of `compressed` into exactly `size` bytes.
    public static func uncompress(_ compressed: [UInt8], size: Int) -> [UInt8]? {
        var length = uLong(size)
        var out = [UInt8](repeating: 0, count: max(size, 1))
        guard CZlib.uncompress(&out, &length, compressed, uLong(compressed.count)) == Z_OK, Int(length) == size else {
            return nil
        }
        return Array(out[..<size])
    }

    /// The version of the zlib linked in.
    public static var version: String { String(cString: zlibVersion()) }
}
