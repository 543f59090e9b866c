import Foundation
import LogFerryNode
import LogFerrySpool
import LogFerryWire
import Logging
import NIOCore
import NIOPosix
import Synchronization

/// The origin of a chaos test: a spool of its own, filled with numbered lines, shipped by the real
/// ``FerrySink`` running in the test process.
///
/// Every line is `seq=NNNNNNNNN origin=HOST ...` with a 9-digit running number, so ``OriginOutput`` can
/// tell a doubled line from a missing or reordered one.
final class TestOrigin: Sendable {
    /// The origin host name written into every batch; the receiver files events under it.
    let host: String
    /// The source name of every event; the receiver writes `OUT/<host>/<source>.log`.
    let source: String
    let spool: Spool
    let sink: FerrySink
    let logs: LogCapture

    /// Opens a spool in `directory` and prepares a ferry sink to `upstreams` (nothing ships until ``start()``).
    init(
        host: String,
        source: String = "chaos",
        directory: String,
        upstreams: [Upstream],
        key: [UInt8]? = nil,
        tls: TLSClientOptions? = nil
    ) async throws {
        self.host = host
        self.source = source
        var quiet = Logger(label: "test.origin.spool")
        quiet.logLevel = .warning
        self.spool = try await Spool.open(SpoolConfiguration(directory: directory, fsync: .never), logger: quiet)
        let logs = LogCapture()
        self.logs = logs
        var logger = Logger(label: "test.origin.\(host)") { _ in logs.handler() }
        logger.logLevel = .info
        self.sink = FerrySink(
            configuration: FerrySinkConfiguration(
                upstreams: upstreams,
                key: key,
                tls: tls,
                hostName: host,
                backoff: Backoff(base: .milliseconds(50), cap: .seconds(1), resetAfter: .seconds(5)),
                connectTimeout: .seconds(2)
            ),
            spool: spool,
            logger: logger
        )
    }

    /// The exact text of line `index` of this origin (without the newline).
    func line(_ index: Int) -> [UInt8] {
        Array(Self.line(index, host: host).utf8)
    }

    /// The text of line `index` for `host`: unique, fixed width for a given host.
    static func line(_ index: Int, host: String) -> String {
        let digits = String(index)
        let padded = String(repeating: "0", count: max(0, 9 - digits.count)) + digits
        return "seq=\(padded) origin=\(host) msg=the quick brown fox jumps over the lazy dog"
    }

    /// Seals lines `range` into batches of at most `batchSize` events and appends them to the spool.
    /// Returns the spool sequence of the last batch.
    @discardableResult
    func append(lines range: Range<Int>, batchSize: Int) async throws -> UInt64 {
        var encoder = BatchEncoder()
        var last: UInt64 = 0
        var start = range.lowerBound
        while start < range.upperBound {
            let end = min(start + batchSize, range.upperBound)
            let events = (start..<end).map { Event(timestamp: UInt64($0), source: source, line: line($0)) }
            let sealed = try encoder.encode(Batch(host: host, events: events))
            if case .stored(let sequence) = try await spool.append(sealed.serialized()) { last = sequence }
            start = end
        }
        return last
    }

    /// Ships until `body` returns, then stops the sink and closes the spool.
    func shipping<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        let sink = self.sink
        let task = Task { try await sink.run() }
        let result: Result<T, any Error>
        do {
            result = .success(try await body())
        } catch {
            result = .failure(error)
        }
        task.cancel()
        _ = await task.result
        await spool.close()
        return try result.get()
    }

    /// Waits until the next hop has durably taken everything up to `sequence`, or fails after `deadline`.
    func waitUntilAcknowledged(through sequence: UInt64, deadline: Duration, _ what: String) async throws {
        let sink = self.sink
        // Polls rather than awaiting `FerrySink.waitUntilAcknowledged`, which cannot be cancelled by the deadline.
        try await waitUntil(what, deadline: deadline) {
            await sink.acknowledged >= sequence
        }
    }
}

/// What a receiver wrote for one origin, checked line by line against ``TestOrigin/line(_:host:)``.
struct OriginOutput: CustomStringConvertible {
    /// Lines found.
    var lines = 0
    /// Lines whose number was seen before.
    var duplicates = 0
    /// Lines whose number is lower than the line before (out of order), duplicates excluded.
    var outOfOrder = 0
    /// Lines that are not of the expected form.
    var garbled = 0
    /// Numbers in 0..<expected that never appeared.
    var missing = 0
    /// The first few problems, for the failure message.
    var problems: [String] = []

    /// Whether the file holds exactly lines 0..<expected, once each, in order.
    var isExact: Bool { duplicates == 0 && outOfOrder == 0 && garbled == 0 && missing == 0 }

    var description: String {
        "\(lines) lines, \(missing) missing, \(duplicates) doubled, \(outOfOrder) out of order, \(garbled) garbled"
            + (problems.isEmpty ? "" : "; first problems: " + problems.joined(separator: "; "))
    }

    /// Reads `paths` one after the other (a missing file counts as empty) and checks that together they
    /// hold lines 0..<expected of `host`.
    static func check(paths: [String], host: String, expected: Int) -> OriginOutput {
        var report = OriginOutput()
        var data = Data()
        for path in paths {
            if let contents = FileManager.default.contents(atPath: path) { data.append(contents) }
        }
        var seen = [Bool](repeating: false, count: expected)
        var previous = -1
        let prefix = Array("seq=".utf8)
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var start = 0
            var lineNumber = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
                lineNumber += 1
                report.lines += 1
                let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                if let index = parse(line, prefix: prefix), index < expected,
                    Array(line) == Array(TestOrigin.line(index, host: host).utf8)
                {
                    if seen[index] {
                        report.duplicates += 1
                        report.note("line \(lineNumber): seq \(index) doubled")
                    } else {
                        seen[index] = true
                        if index < previous {
                            report.outOfOrder += 1
                            report.note("line \(lineNumber): seq \(index) after seq \(previous)")
                        }
                    }
                    previous = max(previous, index)
                } else {
                    report.garbled += 1
                    report.note("line \(lineNumber) garbled: \(String(decoding: line.prefix(80), as: UTF8.self))")
                }
                start = end + 1
            }
        }
        if let first = seen.firstIndex(of: false) {
            report.missing = seen.lazy.filter { !$0 }.count
            report.note("first missing seq \(first)")
        }
        return report
    }

    private static func parse(_ line: UnsafeRawBufferPointer, prefix: [UInt8]) -> Int? {
        guard line.count >= prefix.count + 9, Array(line.prefix(prefix.count)) == prefix else { return nil }
        var value = 0
        for byte in line[prefix.count..<(prefix.count + 9)] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private mutating func note(_ problem: String) {
        if problems.count < 5 { problems.append(problem) }
    }
}

/// A bare TCP connection to a ferry listener that speaks frames by hand, for the hostile-peer tests.
///
/// It reads with the real ``Frame`` decoder and writes either frames or any bytes at all.
///
/// `@unchecked Sendable` so a test can write on one task while it reads on another: the writer touches only
/// the (Sendable) outbound writer, the reader only the inbound iterator and its buffer.
final class RawFerryConnection: @unchecked Sendable {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffer = ByteBuffer()

    private init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// Connects to 127.0.0.1:`port`, runs `body`, and closes the connection.
    static func with<T: Sendable>(port: Int, _ body: (RawFerryConnection) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(RawFerryConnection(inbound: inbound, outbound: outbound))
        }
    }

    /// The next frame from the server, or nil when the server closed the connection (cleanly or not)
    /// before a whole frame arrived.
    func nextFrame() async throws -> Frame? {
        while true {
            if let frame = try Frame.decode(from: &buffer, maxFrameBytes: WireLimits.default.maxFrameBytes) {
                return frame
            }
            let chunk: ByteBuffer?
            do {
                chunk = try await inbound.next()
            } catch {
                return nil
            }
            guard var chunk else { return nil }
            buffer.writeBuffer(&chunk)
        }
    }

    /// Frames until the server closes the connection.
    func framesUntilClosed() async throws -> [Frame] {
        var frames: [Frame] = []
        while let frame = try await nextFrame() { frames.append(frame) }
        return frames
    }

    /// Sends one frame.
    func send(_ frame: Frame) async throws {
        var out = ByteBuffer()
        frame.encode(into: &out)
        try await outbound.write(out)
    }

    /// Sends raw bytes.
    func send(bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Reads the server hello; fails the test run if the server opens with anything else.
    func serverHello() async throws -> ServerHello {
        guard let frame = try await nextFrame() else { throw RawFerryError.closed("before the server hello") }
        guard case .serverHello(let hello) = frame else { throw RawFerryError.unexpected(frame) }
        return hello
    }

    /// Reads the server hello and answers it as a well-behaved client would (right version, proof from
    /// `key`); returns the server's answer (a welcome or a refusal).
    func handshake(spoolID: [UInt8], hostName: String, key: [UInt8]?, version: UInt16 = ProtocolVersion.current) async throws -> Frame? {
        let hello = try await serverHello()
        let proof = key.map { HandshakeAuth.proof(key: $0, nonce: hello.nonce, spoolID: spoolID, hostName: hostName) } ?? []
        try await send(.clientHello(ClientHello(version: version, spoolID: spoolID, hostName: hostName, proof: proof)))
        return try await nextFrame()
    }
}

/// A raw connection went other than expected.
enum RawFerryError: Error, CustomStringConvertible {
    case closed(String)
    case unexpected(Frame)

    var description: String {
        switch self {
        case .closed(let when): "the server closed the connection \(when)"
        case .unexpected(let frame): "unexpected \(frame.kind) frame: \(frame)"
        }
    }
}

/// A swift-log handler that keeps every message, so a test can wait for what a component logged without
/// touching the global logging system.
final class LogCapture: Sendable {
    private let messages = Mutex<[(Logger.Level, String)]>([])

    /// A handler writing into this capture.
    func handler() -> CapturingLogHandler { CapturingLogHandler(capture: self) }

    func record(_ level: Logger.Level, _ message: String) {
        messages.withLock { $0.append((level, message)) }
    }

    /// The messages at `level` or above so far.
    func messages(atLeast level: Logger.Level) -> [String] {
        messages.withLock { $0.filter { $0.0 >= level }.map(\.1) }
    }

    /// Waits until at least `count` messages at `level` or above have been logged, or fails after `deadline`.
    func waitFor(_ count: Int, atLeast level: Logger.Level, deadline: Duration) async throws -> [String] {
        try await withDeadline(deadline, "\(count) log messages at \(level) or above") {
            while self.messages(atLeast: level).count < count {
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        return messages(atLeast: level)
    }
}

/// The handler behind ``LogCapture``.
struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        capture.record(event.level, "\(event.message)")
    }
}
