import LogFerryNode
import LogFerrySpool
import LogFerryWire
import Logging

/// The origin of a chaos test: a spool of its own, filled with numbered lines, shipped by the real
/// ``FerrySink`` running in the test process.
///
/// Every line is `seq=NNNNNNNNN origin=HOST ...` with a 9-digit running number, so ``OriginOutput`` can
/// tell a doubled line from a missing or reordered one.
public final class TestOrigin: Sendable {
    /// The origin host name written into every batch; the receiver files events under it.
    public let host: String
    /// The source name of every event; the receiver writes `OUT/<host>/<source>.log`.
    public let source: String
    /// The origin's own spool, in the test directory.
    public let spool: Spool
    /// The real ferry sink that ships the spool.
    public let sink: FerrySink
    /// What the sink logged.
    public let logs: LogCapture

    /// Opens a spool in `directory` and prepares a ferry sink to `upstreams` (nothing ships until ``shipping(_:)``).
    public init(
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
                backoff: Backoff(base: .milliseconds(50), cap: .seconds(1)),
                connectTimeout: .seconds(2)
            ),
            spool: spool,
            logger: logger
        )
    }

    /// The exact text of line `index` of this origin (without the newline).
    public func line(_ index: Int) -> [UInt8] {
        Array(Self.line(index, host: host).utf8)
    }

    /// The text of line `index` for `host`: unique, fixed width for a given host.
    public static func line(_ index: Int, host: String) -> String {
        let digits = String(index)
        let padded = String(repeating: "0", count: max(0, 9 - digits.count)) + digits
        return "seq=\(padded) origin=\(host) msg=the quick brown fox jumps over the lazy dog"
    }

    /// Appends lines `range` of `host` (``line(_:host:)``), each with its newline, to the file at `path`: what a
    /// test writes for an agent to tail.
    public static func appendLines(_ range: Range<Int>, host: String, to path: String) throws {
        var chunk: [UInt8] = []
        for number in range {
            chunk += line(number, host: host).utf8
            chunk.append(0x0A)
        }
        try appendToFile(path, chunk)
    }

    /// Writes lines 0..<total of `host` to the file at `path` in `ticks` equal steps `pause` apart, calling
    /// `atTick` after each step with the step (1...ticks) and the lines written so far: where a test kills and
    /// restarts things while an agent tails the file.
    public static func writePaced(
        total: Int, host: String, to path: String, ticks: Int, pause: Duration = .milliseconds(100),
        atTick: (_ tick: Int, _ written: Int) async throws -> Void
    ) async throws {
        var written = 0
        for tick in 1...ticks {
            let target = total * tick / ticks
            try appendLines(written..<target, host: host, to: path)
            written = target
            try await atTick(tick, written)
            try await Task.sleep(for: pause)
        }
    }

    /// Seals lines `range` into batches of at most `batchSize` events and appends them to the spool.
    /// Returns the spool sequence of the last batch.
    @discardableResult
    public func append(lines range: Range<Int>, batchSize: Int) async throws -> UInt64 {
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

    /// Appends lines `range` in batches of `batchSize` on a task of its own, pausing `pause` after each batch, so
    /// the appends land while the test breaks things. The task returns the spool sequence of the last batch;
    /// `done` is set when it ends, however it ends.
    public func appendPaced(lines range: Range<Int>, batchSize: Int, pause: Duration, done: Flag) -> Task<UInt64, any Error> {
        Task {
            defer { done.set() }
            var last: UInt64 = 0
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(start + batchSize, range.upperBound)
                last = try await append(lines: start..<end, batchSize: batchSize)
                start = end
                try await Task.sleep(for: pause)
            }
            return last
        }
    }

    /// Ships until `body` returns, then stops the sink and closes the spool.
    public func shipping<T: Sendable>(_ body: () async throws -> T) async throws -> T {
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
    public func waitUntilAcknowledged(through sequence: UInt64, deadline: Duration, _ what: String) async throws {
        let sink = self.sink
        // Polls rather than awaiting `FerrySink.waitUntilAcknowledged`, which cannot be cancelled by the deadline.
        try await waitUntil(what, deadline: deadline) {
            await sink.acknowledged >= sequence
        }
    }
}
