import Foundation
import LogFerryBytes
import LogFerryDeflate

/// The least CPU any durable shipper of a file can spend on it: one thread that reads the file in 1 MiB
/// chunks, compresses each with ISA-L level 1, checksums it, appends it to a file with `fdatasync`, and writes it
/// to a loopback socket. No lines, no framing, no records, no acknowledgements, no second thread.
///
/// `logferry bench pipeline` prints it beside ISA-L alone, so the agent's CPU reads as three parts: the
/// compression, the system calls a fsync-per-batch spool and a socket cannot avoid (floor minus ISA-L alone), and
/// what the agent adds on top (agent minus floor).
struct PipelineFloor {
    /// The file to ship.
    let inputPath: String
    /// Where the compressed chunks are appended (deleted afterwards).
    let spoolPath: String

    /// CPU seconds (user and system) of the calling thread for the whole loop; the discarding reader of the socket
    /// runs on its own thread and is not counted.
    func measure() throws -> Double {
        let input = open(inputPath, O_RDONLY)
        guard input >= 0 else { throw BenchError("cannot open \(inputPath): errno \(errno)") }
        defer { close(input) }
        let spool = open(spoolPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard spool >= 0 else { throw BenchError("cannot create \(spoolPath): errno \(errno)") }
        defer {
            close(spool)
            unlink(spoolPath)
        }
        let socket = try Self.loopbackSink()
        defer { close(socket) }

        let chunk = 1 << 20
        let compressor = DeflateCompressor(backend: .isal, level: 1)
        var buffer = [UInt8](repeating: 0, count: chunk)
        var output = [UInt8](repeating: 0, count: compressor.outputCapacity(chunk))
        let started = Self.threadCPU()
        var readOffset: off_t = 0
        var spoolOffset: off_t = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress, chunk, readOffset) }
            guard count > 0 else {
                if count < 0 { throw BenchError("cannot read \(inputPath): errno \(errno)") }
                break
            }
            readOffset += off_t(count)
            let produced = try buffer.withUnsafeBytes { raw in
                try output.withUnsafeMutableBytes { out in
                    try compressor.compress(UnsafeRawBufferPointer(rebasing: raw[0..<count]), into: out)
                }
            }
            try output.withUnsafeBytes { raw in
                let compressed = UnsafeRawBufferPointer(rebasing: raw[0..<produced])
                _ = CRC32C.checksum(compressed)
                guard pwrite(spool, compressed.baseAddress, produced, spoolOffset) == produced, fdatasync(spool) == 0 else {
                    throw BenchError("cannot write \(spoolPath): errno \(errno)")
                }
                spoolOffset += off_t(produced)
                var sent = 0
                while sent < produced {
                    let rest = UnsafeRawBufferPointer(rebasing: compressed[sent...])
                    let wrote = write(socket, rest.baseAddress, rest.count)
                    guard wrote > 0 else { throw BenchError("loopback send failed: errno \(errno)") }
                    sent += wrote
                }
            }
        }
        return Self.threadCPU() - started
    }

    /// CPU seconds this thread has used.
    private static func threadCPU() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }

    /// A connected loopback TCP socket whose peer, on a thread of its own, reads and discards until it closes.
    private static func loopbackSink() throws -> Int32 {
        let listener = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard listener >= 0 else { throw BenchError("cannot create a socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let listening = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, length) == 0 && listen(listener, 1) == 0 && getsockname(listener, $0, &length) == 0
            }
        }
        guard listening else {
            close(listener)
            throw BenchError("cannot listen on loopback: errno \(errno)")
        }
        Thread.detachNewThread {
            let peer = accept(listener, nil, nil)
            close(listener)
            guard peer >= 0 else { return }
            var sink = [UInt8](repeating: 0, count: 1 << 20)
            while sink.withUnsafeMutableBytes({ read(peer, $0.baseAddress, $0.count) }) > 0 {}
            close(peer)
        }
        let client = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(client, $0, length) == 0 }
        }
        guard client >= 0, connected else {
            close(client)
            throw BenchError("cannot connect on loopback: errno \(errno)")
        }
        return client
    }
}
