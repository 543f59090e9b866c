/// Which batches of which origin a batch frame (or a stored record) holds: the identity that makes delivery
/// exactly-once end to end (Docs/PROTOCOL.md §2a).
///
/// The node that sealed a batch is its *origin*; its spool id and the sequence it gave the batch (a *unit*)
/// name the batch forever. Relays forward this identity unchanged. A frame holds either whole units
/// `first...last` (more than one when a relay merged consecutive batches with `--rebatch`), or a *fragment*
/// of a single unit: the events `fragmentStart ..< fragmentStart + eventCount` of that unit's
/// ``unitEvents``[0] events, made when a batch had to be cut to fit a hop's limits. Because every frame says
/// exactly which events of which unit it carries, a receiver can tell a copy from new data however the
/// batches were merged or cut on the way, and trim a frame that is only partly new.
public struct BatchOrigin: Sendable, Hashable {
    /// The spool id of the node that sealed the batch (16 bytes).
    public var spoolID: [UInt8]
    /// The first origin sequence covered.
    public var first: UInt64
    /// The last origin sequence covered (`first` for a single batch).
    public var last: UInt64
    /// For a fragment, the index in its unit of the first event carried; 0 otherwise.
    public var fragmentStart: UInt32
    /// The number of events of each unit `first...last`. For a fragment (one unit, only some of its events
    /// carried) the unit's total, which is more than the frame's event count.
    public var unitEvents: [UInt32]

    /// Creates an origin from its parts (checked by ``validate(eventCount:)``).
    public init(spoolID: [UInt8], first: UInt64, last: UInt64, fragmentStart: UInt32 = 0, unitEvents: [UInt32]) {
        self.spoolID = spoolID
        self.first = first
        self.last = last
        self.fragmentStart = fragmentStart
        self.unitEvents = unitEvents
    }

    /// The origin of a whole batch that its own node sealed as `sequence`.
    public init(spoolID: [UInt8], sequence: UInt64, events: UInt32) {
        self.init(spoolID: spoolID, first: sequence, last: sequence, fragmentStart: 0, unitEvents: [events])
    }

    /// The number of units covered.
    public var unitCount: UInt64 { last &- first &+ 1 }

    /// Whether this carries only some of the events of one unit.
    public func isFragment(eventCount: UInt32) -> Bool {
        unitEvents.count == 1 && (fragmentStart > 0 || eventCount < unitEvents[0])
    }

    /// The encoded size of the origin of a single unit, the smallest there is.
    public static let minimumWireSize = 16 + 8 + 8 + 4 + 4 + 4

    /// The encoded size: id, first, last, fragment start, unit count and the counts.
    var wireSize: Int { 16 + 8 + 8 + 4 + 4 + 4 * unitEvents.count }

    /// Checks the origin against the batch that carries `eventCount` events; a violation is malformed.
    public func validate(eventCount: UInt32) throws(WireError) {
        guard spoolID.count == 16 else {
            throw WireError(.malformed("origin spool id is \(spoolID.count) bytes, not 16"))
        }
        guard first >= 1, first <= last else {
            throw WireError(.malformed("origin range \(first)...\(last) is empty or starts at 0"))
        }
        guard UInt64(unitEvents.count) == unitCount else {
            throw WireError(.malformed("origin range \(first)...\(last) lists \(unitEvents.count) unit counts"))
        }
        if unitEvents.count == 1 {
            guard UInt64(fragmentStart) + UInt64(eventCount) <= UInt64(unitEvents[0]) else {
                throw WireError(.malformed(
                    "origin fragment \(fragmentStart)+\(eventCount) overruns its unit of \(unitEvents[0]) events"))
            }
        } else {
            guard fragmentStart == 0 else {
                throw WireError(.malformed("a frame of \(unitEvents.count) origin units cannot be a fragment"))
            }
            let total = unitEvents.reduce(UInt64(0)) { $0 + UInt64($1) }
            guard total == UInt64(eventCount) else {
                throw WireError(.malformed("origin unit counts add up to \(total), the batch holds \(eventCount) events"))
            }
        }
    }

    /// Writes the origin in its wire layout.
    func write<Output: WireOutput>(to output: inout Output) {
        output.writeWireBytes(spoolID)
        output.writeWireInteger(first)
        output.writeWireInteger(last)
        output.writeWireInteger(fragmentStart)
        output.writeWireInteger(UInt32(clamping: unitEvents.count))
        for count in unitEvents { output.writeWireInteger(count) }
    }

    /// Reads an origin in its wire layout; nothing is allocated beyond what the input holds.
    static func read(from reader: inout WireReader) throws(WireError) -> BatchOrigin {
        let spoolID = try reader.readBytes(count: 16)
        let first = try reader.readInteger(as: UInt64.self)
        let last = try reader.readInteger(as: UInt64.self)
        let fragmentStart = try reader.readInteger(as: UInt32.self)
        let units = try reader.readInteger(as: UInt32.self)
        guard UInt64(units) * 4 <= UInt64(reader.remaining) else { throw WireError(.truncated) }
        var unitEvents: [UInt32] = []
        unitEvents.reserveCapacity(Int(units))
        for _ in 0..<units { unitEvents.append(try reader.readInteger(as: UInt32.self)) }
        return BatchOrigin(spoolID: spoolID, first: first, last: last, fragmentStart: fragmentStart, unitEvents: unitEvents)
    }

    /// The encoded bytes (the layout the spool record metadata stores too).
    public func encodedBytes() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(wireSize)
        write(to: &bytes)
        return bytes
    }

    /// Reads an origin from exactly `bytes` (as ``encodedBytes()`` wrote it).
    public init(decoding bytes: [UInt8]) throws(WireError) {
        let parsed: Result<BatchOrigin, WireError> = bytes.withUnsafeBytes { buffer in
            do throws(WireError) {
                var reader = WireReader(buffer)
                let origin = try BatchOrigin.read(from: &reader)
                try reader.expectEnd()
                return .success(origin)
            } catch {
                return .failure(error)
            }
        }
        self = try parsed.get()
    }
}
