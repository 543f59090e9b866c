import CZlib

/// An inflate `z_stream`, initialised once and reset per call, capped at the output buffer.
///
/// It gives zlib exactly the declared size, then one probe byte: if inflate writes into the probe, the
/// stream is longer than declared. So nothing is ever written past the declared size.
final class ZlibInflater {
    private let stream: UnsafeMutablePointer<z_stream>
    private let initStatus: Int32

    init() {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        initStatus = logferry_inflateInit2(stream, zlibWindowBits)
    }

    deinit {
        if initStatus == Z_OK { inflateEnd(stream) }
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws(DeflateError) {
        guard initStatus == Z_OK else { throw zlibError(initStatus, "inflateInit2") }
        var status = inflateReset(stream)
        guard status == Z_OK else { throw zlibError(status, "inflateReset") }
        defer {
            stream.pointee.next_in = nil
            stream.pointee.next_out = nil
        }
        let declared = output.count
        var probe: UInt8 = 0
        try withUnsafeMutableBytes(of: &probe) { probeBuffer throws(DeflateError) in
            stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
            stream.pointee.avail_in = uInt(input.count)
            if let outBase = output.baseAddress, output.count > 0 {
                stream.pointee.next_out = outBase.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(output.count)
                status = CZlib.inflate(stream, Z_NO_FLUSH)
                while status == Z_OK, stream.pointee.avail_in > 0, stream.pointee.avail_out > 0 {
                    status = CZlib.inflate(stream, Z_NO_FLUSH)
                }
            } else {
                stream.pointee.next_out = nil
                stream.pointee.avail_out = 0
                status = Z_OK
            }
            if status == Z_OK || status == Z_BUF_ERROR {
                let produced = output.count - Int(stream.pointee.avail_out)
                // Room left but no input: the stream stops before its end.
                guard produced == declared else { throw .streamNotEnded }
                // The output is full; the end marker and trailer may still be pending. Give inflate one
                // byte it must not use.
                stream.pointee.next_out = probeBuffer.baseAddress?.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = 1
                status = CZlib.inflate(stream, Z_NO_FLUSH)
                if stream.pointee.avail_out == 0 { throw .limitExceeded(limit: declared) }
                if status == Z_OK || status == Z_BUF_ERROR { throw .streamNotEnded }
            }
        }
        switch status {
        case Z_STREAM_END:
            let produced = Int(stream.pointee.total_out)
            guard produced == declared else { throw .sizeMismatch(declared: declared, actual: produced) }
            guard stream.pointee.avail_in == 0 else { throw .trailingData }
        case Z_NEED_DICT:
            throw .corrupt(backend: "zlib", code: Z_NEED_DICT, detail: "the stream asks for a preset dictionary")
        default:
            throw zlibError(status, "inflate")
        }
    }

    private func zlibError(_ code: Int32, _ call: String) -> DeflateError {
        if code == Z_MEM_ERROR { return .outOfMemory(backend: "zlib") }
        let message = stream.pointee.msg.map { String(cString: $0) } ?? "\(call) failed"
        if code == Z_DATA_ERROR { return .corrupt(backend: "zlib", code: code, detail: message) }
        return .failed(backend: "zlib", code: code, detail: message)
    }
}
