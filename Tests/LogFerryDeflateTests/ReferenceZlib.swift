import CZlib

/// Plain zlib, called directly, as the reference the backends are checked against: its one-shot
/// `compress2` and `uncompress` share no code with the backends' wrappers.
enum ReferenceZlib {
    /// `bytes` as one zlib stream at `level`.
    static func compress(_ bytes: [UInt8], level: Int32) -> [UInt8] {
        var length = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(length))
        let status = compress2(&out, &length, bytes, uLong(bytes.count), level)
        precondition(status == Z_OK, "compress2 failed: \(status)")
        return Array(out[..<Int(length)])
    }

    /// `compressed` inflated into exactly `size` bytes, or nil if zlib refuses it or it is not that size.
    static func uncompress(_ compressed: [UInt8], size: Int) -> [UInt8]? {
        var length = uLong(size + 1)
        var out = [UInt8](repeating: 0, count: size + 1)
        guard CZlib.uncompress(&out, &length, compressed, uLong(compressed.count)) == Z_OK, Int(length) == size else {
            return nil
        }
        return Array(out[..<size])
    }

    /// `total` zero bytes as one zlib stream, deflated 1 MiB at a time so a large bomb never needs its
    /// size in memory.
    static func zeros(total: Int) -> [UInt8] {
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        precondition(logferry_deflateInit2(stream, 9, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY) == Z_OK)
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
}
