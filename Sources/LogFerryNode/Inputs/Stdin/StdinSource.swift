import Glibc
import LogFerryWire
import Logging
import ServiceLifecycle
import Metrics
import NIOCore
import NIOPosix

/// Reads lines from standard input into a `SpoolIngest` until end of input, then seals what is left.
///
/// A pipe or terminal is read through NIO (backpressure: a full spool stops the reads, and the writer
/// blocks); a regular file redirected in is read directly. Lines are cut by `LineSplitter`, as the file tailer's
/// are: an over-long line ships cut to `maxLineBytes` and counted in `logferry_source_lines_cut_total`.
/// Lines the ``LineFilter`` drops are counted in `logferry_source_lines_filtered_total{source="stdin"}`.
public struct StdinSource: Service {
    let ingest: SpoolIngest
    let maxLineBytes: Int
    let filter: LineFilter
    let logger: Logger
    let cutLines = Counter(label: "logferry_source_lines_cut_total", dimensions: [("source", "stdin")])
    let filtered = Counter(label: "logferry_source_lines_filtered_total", dimensions: [("source", "stdin")])

    /// Creates a stdin source feeding `ingest`; `filter` decides which lines are kept.
    public init(ingest: SpoolIngest, maxLineBytes: Int = 1 << 20, filter: LineFilter = .none, logger: Logger) {
        self.ingest = ingest
        self.maxLineBytes = maxLineBytes
        self.filter = filter
        self.logger = logger
    }

    /// Reads to the end of input, or until graceful shutdown (what is still in the pipe is left unread); then
    /// stores every line read, waiting a bounded time for spool space (``SpoolIngest/finish()``).
    public func run() async throws {
        var info = stat()
        let isRegularFile = fstat(STDIN_FILENO, &info) == 0 && (info.st_mode & S_IFMT) == S_IFREG
        let ingest = self.ingest
        do {
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await ingest.runLingerTimer() }
                do {
                    try await cancelWhenGracefulShutdown { try await readAll(regularFile: isRegularFile) }
                } catch is CancellationError {
                    logger.info("shutting down: standard input is no longer read")
                }
                group.cancelAll()
                try await group.waitForAll()
            }
        } catch {
            await ingest.finish()
            throw error
        }
        await ingest.finish()
        logger.info("end of standard input")
    }

    /// Reads standard input to its end into the ingest.
    private func readAll(regularFile isRegularFile: Bool) async throws {
        var splitter = LineSplitter(maxLineBytes: maxLineBytes)
        if isRegularFile {
            var buffer = [UInt8](repeating: 0, count: 1 << 16)
            while true {
                try Task.checkCancellation()
                let n = buffer.withUnsafeMutableBytes { read(STDIN_FILENO, $0.baseAddress, $0.count) }
                if n < 0, errno == EINTR { continue }
                guard n > 0 else { break }
                try await add(buffer.withUnsafeBytes { lines(in: UnsafeRawBufferPointer(rebasing: $0[0..<n]), splitter: &splitter) })
            }
        } else {
            let channel = try await NIOPipeBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .takingOwnershipOfDescriptor(input: dup(STDIN_FILENO)) { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try NIOAsyncChannel<ByteBuffer, Never>(wrappingChannelSynchronously: channel)
                    }
                }
            try await channel.executeThenClose { inbound, _ in
                for try await chunk in inbound {
                    try await add(chunk.withUnsafeReadableBytes { lines(in: $0, splitter: &splitter) })
                }
            }
        }
        if let (last, cut) = splitter.flush() {
            if cut { cutLines.increment() }
            try await add([last])
        }
    }

    /// The lines `bytes` complete (see ``LineSplitter`` for over-long lines); each cut is counted.
    private func lines(in bytes: UnsafeRawBufferPointer, splitter: inout LineSplitter) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        splitter.feed(bytes) { line, cut, _ in
            if cut { cutLines.increment() }
            lines.append(line)
            return true
        }
        return lines
    }

    /// Adds each line to the batch being built, as a stdin event.
    private func add(_ lines: [[UInt8]]) async throws {
        var dropped = 0
        for line in lines {
            guard filter.admits(line) else {
                dropped += 1
                continue
            }
            try await ingest.add(event(line))
        }
        if dropped > 0 { filtered.increment(by: Int64(dropped)) }
    }

    private func event(_ line: [UInt8]) -> Event {
        Event(timestamp: WallClock.nanosecondsSinceEpoch(), source: "stdin", line: line)
    }
}

/// The wall clock, for event timestamps.
enum WallClock {
    /// Nanoseconds since the Unix epoch, now.
    static func nanosecondsSinceEpoch() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
