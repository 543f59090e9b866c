/// Joins one file's lines into multi-line events under a ``MultilineConfiguration``; pure, no I/O and no clock of
/// its own, so that its tests feed lines and check what comes out.
///
/// ## Offsets
/// Each line comes with the file offsets where it starts and just after its newline. The unfinished event remembers
/// where its first line starts (``pendingStart``): the tailer's checkpoint never passes it, so a restart reads the
/// whole event again and it ships once, whole. A sealed event carries the offset just after its last line.
///
/// ## Size
/// An event is at most ``MultilineConfiguration/maxBytes`` bytes (lines joined by `\n`): the line that would pass
/// the limit is cut there, later lines of the same event are dropped, and the event is marked cut. The offsets
/// still cover the dropped lines, so they are not read again.
struct MultilineAssembler {
    /// An event handed out.
    struct Event: Equatable {
        /// The lines joined by `\n`.
        var bytes: [UInt8]
        /// The offset just after the last line's terminator.
        var endOffset: UInt64
        /// A line was cut (`--max-line-bytes`) or the event was cut at ``MultilineConfiguration/maxBytes``.
        var truncated: Bool
        /// The event was cut at ``MultilineConfiguration/maxBytes``.
        var cutAtMaxBytes: Bool
    }

    /// The configuration in use.
    let configuration: MultilineConfiguration

    private var pending: [UInt8] = []
    private var pendingEnd: UInt64 = 0
    private var pendingTruncated = false
    private var pendingCut = false
    /// Where the unfinished event's first line starts; nil when there is none.
    private(set) var pendingStart: UInt64?
    /// When the last line was added to the unfinished event (the flush timeout runs from there).
    private(set) var lastLineAt: ContinuousClock.Instant?

    /// Makes an assembler with nothing pending.
    init(configuration: MultilineConfiguration) {
        self.configuration = configuration
    }

    /// Whether an unfinished event is held.
    var hasPendingEvent: Bool { pendingStart != nil }

    /// The size of the unfinished event, which a line starting a new event would hand out.
    var pendingBytes: Int { pending.count }

    /// Whether `line` would seal the unfinished event (it starts a new one) rather than join it. Changes nothing,
    /// so a caller can first check that it has room for the sealed event.
    func seals(_ line: UnsafeRawBufferPointer) -> Bool {
        guard hasPendingEvent else { return false }
        switch configuration.rule {
        case .start(let pattern): return pattern.matches(line)
        case .continuation(let pattern): return !pattern.matches(line)
        }
    }

    /// Adds a line that starts at `start` and ends (after its terminator) at `end`; returns the event it seals, if
    /// any. `sealing` is ``seals(_:)`` for this line, when the caller has computed it already.
    mutating func add(
        _ line: [UInt8],
        start: UInt64,
        end: UInt64,
        truncated: Bool,
        at now: ContinuousClock.Instant,
        sealing: Bool? = nil
    ) -> Event? {
        let seal = sealing ?? line.withUnsafeBytes { seals($0) }
        var sealed: Event?
        if seal { sealed = take() }
        if pendingStart == nil {
            pendingStart = start
            pending.reserveCapacity(min(line.count, configuration.maxBytes))
        } else if !pendingCut {
            append([UInt8(ascii: "\n")])
        }
        if !pendingCut { append(line) }
        pendingEnd = end
        pendingTruncated = pendingTruncated || truncated
        lastLineAt = now
        return sealed
    }

    /// Hands out the unfinished event now (its flush timeout passed, or the file was deleted); nil when none.
    mutating func flush() -> Event? {
        take()
    }

    /// Forgets the unfinished event: its lines will be read again from ``pendingStart`` (a file closed and
    /// reopened, or read again from 0).
    mutating func discard() {
        pending = []
        pendingStart = nil
        pendingTruncated = false
        pendingCut = false
        lastLineAt = nil
    }

    /// When the unfinished event is due to be flushed; nil when there is none.
    var flushDeadline: ContinuousClock.Instant? {
        guard hasPendingEvent, let lastLineAt else { return nil }
        return lastLineAt + configuration.timeout
    }

    private mutating func append(_ bytes: [UInt8]) {
        let room = configuration.maxBytes - pending.count
        if bytes.count <= room {
            pending.append(contentsOf: bytes)
        } else {
            pending.append(contentsOf: bytes.prefix(max(0, room)))
            pendingCut = true
        }
    }

    private mutating func take() -> Event? {
        guard hasPendingEvent else { return nil }
        // A cut that ended on the `\n` between two lines leaves it dangling: drop it.
        if pendingCut, pending.last == UInt8(ascii: "\n") { pending.removeLast() }
        let event = Event(bytes: pending, endOffset: pendingEnd, truncated: pendingTruncated || pendingCut, cutAtMaxBytes: pendingCut)
        discard()
        return event
    }
}
