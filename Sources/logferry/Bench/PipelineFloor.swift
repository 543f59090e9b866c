import Foundation
import LogFerryBytes
import LogFerryDeflate
import LogFerryNode
import LogFerryWire

/// The least CPU any durable shipper of a file can spend on it: one thread that reads the file in 1 MiB
/// chunks, compresses each with ISA-L level 1, checksums it, appends it to a file with `fdatasync`, and writes it
/// to a loopback socket. No lines, no framing, no records, no acknowledgements, no second thread.
///
/// With `encodesLines`, the same thread also does the least a shipper of *lines* must: it cuts each chunk into
/// lines with `memchr` (a line cut by the chunk's end waits for the next read) and encodes them as the wire's
/// events with ``BatchBodyBuilder``, the agent's own encoder, compressing a body whenever the default
/// ``BatchPolicy`` would seal the agent's batch. That is the cost of a perfect single-threaded agent: no handoffs,
/// no records, no protocol.
///
/// `logferry bench pipeline` prints both beside ISA-L alone, so the agent's CPU reads as four parts: the
/// compression, the system calls a fsync-per-batch spool and a socket cannot avoid (floor minus ISA-L alone), the
/// events the wire format needs (floor with lines minus floor), and what the agent adds on top.
struct PipelineFloor {
    /// The file to ship.
    let inputPath: String
    /// Where the compressed chunks are appended (deleted afterwards).
    let spoolPath: String
    /// Whether to cut lines and encode them as events before compressing (see the type's comment).
    var encodesLines = false

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
        var buffer = [UInt8](repeating: 0, count: chunk)
        let policy = BatchPolicy()
        // A body is at most one batch plus a line of at most `chunk` and its header.
        var destination = Destination(spool: spool, spoolPath: spoolPath, socket: socket, largestBody: policy.maxBytes + 2 * chunk)
        var builder = BatchBodyBuilder(capacity: policy.maxBytes)
        let started = Self.threadCPU()
        var readOffset: off_t = 0
        // Bytes of a line cut by the previous chunk's end, kept at the front of the buffer.
        var carried = 0
        while true {
            let count = buffer.withUnsafeMutableBytes { pread(input, $0.baseAddress.map { $0 + carried }, chunk - carried, readOffset) }
            guard count > 0 else {
                if count < 0 { throw BenchError("cannot read \(inputPath): errno \(errno)") }
                break
            }
            readOffset += off_t(count)
            guard encodesLines else {
                try buffer.withUnsafeBytes { try destination.ship(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
                continue
            }
            let timestamp = UInt64(Date().timeIntervalSince1970 * 1e9)
            let filled = carried + count
            carried = try buffer.withUnsafeMutableBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                var start = 0
                while start < filled, let newline = memchr(base + start, 0x0A, filled - start) {
                    let end = base.distance(to: newline)
                    builder.append(line: UnsafeRawBufferPointer(rebasing: raw[start..<end]), source: inputPath, timestamp: timestamp)
                    start = end + 1
                    if builder.eventCount >= policy.maxEvents || builder.byteCount >= policy.maxBytes {
                        try Self.ship(&builder, to: &destination)
                    }
                }
                if start == 0 && filled == chunk {
                    // A line longer than the buffer goes as it is.
                    builder.append(line: UnsafeRawBufferPointer(rebasing: raw[0..<filled]), source: inputPath, timestamp: timestamp)
                    return 0
                }
                raw.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[start..<filled]))
                return filled - start
            }
        }
        if !builder.isEmpty { try Self.ship(&builder, to: &destination) }
        return Self.threadCPU() - started
    }

    /// Where the floor's compressed batches go: the spool file (made durable) and the loopback socket. State kept in
    /// one value the loop passes `inout`, so the per-line loop pays no dynamic exclusivity checks on captured
    /// variables (which the agent's own loop does not pay either).
    private struct Destination {
        let spool: Int32
        let spoolPath: String
        let socket: Int32
        let compressor = DeflateCompressor(backend: .isal, level: 1)
        var output: [UInt8]
        var spoolOffset: off_t = 0

        init(spool: Int32, spoolPath: String, socket: Int32, largestBody: Int) {
            self.spool = spool
            self.spoolPath = spoolPath
            self.socket = socket
            output = [UInt8](repeating: 0, count: compressor.outputCapacity(largestBody))
        }

        /// Compresses `body`, checksums it, makes it durable and sends it.
        mutating func ship(_ body: UnsafeRawBufferPointer) throws {
            let produced = try output.withUnsafeMutableBytes { try compressor.compress(body, into: $0) }
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
    }

    /// Finishes the builder's body and ships it.
    private static func ship(_ builder: inout BatchBodyBuilder, to destination: inout Destination) throws {
        var failure: (any Error)?
        try builder.finish(host: "floor") { body in
            do { try destination.ship(body) } catch { failure = error }
        }
        if let failure { throw failure }
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
