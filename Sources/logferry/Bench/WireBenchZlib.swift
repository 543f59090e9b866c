import CZlib
import LogFerryWire

/// The bare-zlib baseline of `logferry bench wire`: deflate and inflate with reused `z_stream`s, the way
/// the codec uses zlib, without building or parsing anything.
final class WireBenchZlib {
    private let deflater: UnsafeMutablePointer<z_stream>
    private let inflater: UnsafeMutablePointer<z_stream>
    private var output: [UInt8] = []

    init(level: Int32) {
        deflater = .allocate(capacity: 1)
        deflater.initialize(to: z_stream())
        inflater = .allocate(capacity: 1)
        inflater.initialize(to: z_stream())
        _ = logferry_deflateInit2(deflater, level, Z_DEFLATED, 15, 8, Z_DEFAULT_STRATEGY)
        _ = logferry_inflateInit2(inflater, 15)
    }

    deinit {
        deflateEnd(deflater)
        inflateEnd(inflater)
        deflater.deallocate()
        inflater.deallocate()
    }

    /// Compresses `body` as one zlib stream; returns the compressed size.
    @discardableResult
    func compress(_ body: [UInt8]) throws -> Int {
        deflateReset(deflater)
        let bound = Int(deflateBound(deflater, uLong(body.count)))
        if output.count < bound { output = [UInt8](repeating: 0, count: bound) }
        let status = body.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                deflater.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
                deflater.pointee.avail_in = uInt(input.count)
                deflater.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                deflater.pointee.avail_out = uInt(bound)
                return deflate(deflater, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw WireError(.zlib(code: status, message: "bench deflate")) }
        return bound - Int(deflater.pointee.avail_out)
    }

    /// Inflates `compressed` into the reused buffer, which must come out at exactly `size` bytes.
    func inflate(_ compressed: [UInt8], size: Int) throws {
        inflateReset(inflater)
        if output.count < size + 1 { output = [UInt8](repeating: 0, count: size + 1) }
        let status = compressed.withUnsafeBytes { input in
            output.withUnsafeMutableBytes { out in
                inflater.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
                inflater.pointee.avail_in = uInt(input.count)
                inflater.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                inflater.pointee.avail_out = uInt(size)
                return CZlib.inflate(inflater, Z_FINISH)
            }
        }
        guard status == Z_STREAM_END else { throw WireError(.zlib(code: status, message: "bench inflate")) }
    }

    /// Inflates `compressed` into a new array of `size` bytes (to recover the bodies the codec compressed).
    static func inflate(_ compressed: [UInt8], size: Int) throws -> [UInt8] {
        let zlib = WireBenchZlib(level: 1)
        try zlib.inflate(compressed, size: size)
        return Array(zlib.output[..<size])
    }
}
