import Foundation
import LogFerryNode
import LogFerrySpool

/// How a ``LogFerryLoggingService`` buffers, spools and ships an application's logs.
///
/// The defaults keep the loss window short: a log call's event waits in memory at most ``flushInterval``
/// (100 ms) or ``maxBatchEvents`` events before its batch is sealed into the spool, which is fsynced per batch.
/// Only what is in memory then is lost to a `kill -9` or a power cut; a graceful shutdown stores and ships it.
public struct LogFerryLoggingConfiguration: Sendable {
    /// The spool directory (created when missing; one process at a time). It is the application's origin: keep
    /// it across restarts so a restarted application resumes where it was and nothing is shipped twice.
    public var spoolDirectory: String
    /// The next hops (`logferry relay` or `logferry receive` listeners), in failover order.
    public var upstreams: [Upstream]
    /// Failover (default) or round-robin across ``upstreams``.
    public var selection: UpstreamSelection = .failover
    /// Events the in-memory buffer holds at most between log calls and the drain task.
    public var bufferCapacity: Int = 10_000
    /// What a log call does when the buffer is full.
    public var overflowPolicy: BufferOverflowPolicy = .dropNewest
    /// An open batch is sealed into the spool at most this long after its first event: the loss window.
    public var flushInterval: Duration = .milliseconds(100)
    /// A batch is sealed at this many events, however young.
    public var maxBatchEvents: Int = 1000
    /// A batch is sealed at this many uncompressed bytes.
    public var maxBatchBytes: Int = 1 << 20
    /// zlib level for sealing batches.
    public var compressionLevel: Int = 1
    /// When appended batches are forced to disk; `always` (default) makes a sealed batch survive a power cut.
    public var fsync: FsyncPolicy = .always
    /// The spool's size cap in bytes (nil: none).
    public var maxSpoolBytes: Int?
    /// What the spool does at its cap. Under `block` the drain task waits, the buffer fills, and
    /// ``overflowPolicy`` decides; `drop-oldest` keeps the newest logs.
    public var spoolPolicy: CapacityPolicy = .block
    /// The origin host name in batches and hellos (default: this machine's host name).
    public var hostName: String = ProcessInfo.processInfo.hostName
    /// The shared key, when the upstreams require one.
    public var key: [UInt8]?
    /// TLS to the upstreams, when set.
    public var tls: TLSClientOptions?
    /// Reconnect backoff (exponential, full jitter).
    public var backoff: Backoff = Backoff()
    /// Batches in flight at most.
    public var window: Int = 16
    /// How long a graceful shutdown waits for the upstream to acknowledge everything stored before it stops
    /// anyway (what is not acknowledged stays in the spool and is shipped by the next run).
    public var shutdownTimeout: Duration = .seconds(10)

    /// A configuration that spools into `spoolDirectory` and ships to `upstreams`; every other setting has its
    /// default.
    public init(spoolDirectory: String, upstreams: [Upstream]) {
        self.spoolDirectory = spoolDirectory
        self.upstreams = upstreams
    }

    /// The same from `HOST:PORT[,HOST:PORT...]` (the agent's `--to`).
    ///
    /// - Throws: ``LogFerryLoggingError/badUpstreams(_:)`` when `to` is not such a list.
    public init(spoolDirectory: String, to: String) throws(LogFerryLoggingError) {
        guard let upstreams = Upstream.parseList(to) else { throw .badUpstreams(to) }
        self.init(spoolDirectory: spoolDirectory, upstreams: upstreams)
    }
}

/// Why a ``LogFerryLoggingService`` could not be configured or started.
public enum LogFerryLoggingError: Error, Sendable, CustomStringConvertible {
    /// The upstream list did not parse.
    case badUpstreams(String)
    /// No upstream was given: the spool would only grow.
    case noUpstreams(spool: String)

    /// What happened and what to do.
    public var description: String {
        switch self {
        case .badUpstreams(let text):
            "LogFerryLogging: '\(text)' is not a list of upstreams; give HOST:PORT[,HOST:PORT...] (e.g. relay.example:7000)"
        case .noUpstreams(let spool):
            "LogFerryLogging: no upstream to ship the spool \(spool) to; give at least one HOST:PORT"
        }
    }
}
