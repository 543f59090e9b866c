import Foundation
import LogFerryTestSupport
import LogFerryWire
import Testing

/// Exactly-once by origin (Docs/PROTOCOL.md §2a) against a real `logferry receive`, driven by hand-made frames.
///
/// Every connection stands for a relay: it has a random *hop* spool id of its own, and carries batches whose
/// *origin* spool id is shared when two relays carry the same origin batch. Every event's line is
/// `u<unit>-e<index>`, so the output file can be checked exactly: each expected line once, nothing else.
///
/// The output is read only once everything is acknowledged and a *sentinel* batch (another origin, sent last,
/// on a fresh connection, into the same file) has been written: the file sink writes the spool in order, so a
/// doubled copy stored before the sentinel is in the file by then, and the check sees it.
@Suite("Ferry exactly-once by origin (real receiver, raw frames)", .serialized)
struct FerryOriginDedupTests {
    static let host = "origin-host"
    static let source = "app"

    // MARK: - Building frames

    static func randomID() -> [UInt8] { (0..<16).map { _ in UInt8.random(in: 0...255) } }

    static func line(unit: UInt64, event: Int) -> String { "u\(unit)-e\(event)" }

    static func events(unit: UInt64, _ range: Range<Int>) -> [Event] {
        range.map { index in
            Event(timestamp: 1_700_000_000_000_000_000 + unit * 1_000_000 + UInt64(index), source: source,
                  line: Array(line(unit: unit, event: index).utf8))
        }
    }

    /// A frame carrying whole units `units`, `perUnit` events each, as hop record `hop`.
    static func wholeUnits(hop: UInt64, origin: [UInt8], units: ClosedRange<UInt64>, perUnit: Int,
                           part: UInt16 = 0, partCount: UInt16 = 1) throws -> Frame {
        var encoder = BatchEncoder()
        let carried = units.flatMap { Self.events(unit: $0, 0..<perUnit) }
        let sealed = try encoder.encode(Batch(host: host, events: carried))
        let batchOrigin = BatchOrigin(spoolID: origin, first: units.lowerBound, last: units.upperBound,
                                      fragmentStart: 0, unitEvents: Array(repeating: UInt32(perUnit), count: units.count))
        return .batch(BatchFrame(sequence: hop, part: part, partCount: partCount, origin: batchOrigin, batch: sealed))
    }

    /// A frame carrying events `range` of unit `unit` (of `total` events), as hop record `hop`.
    static func fragment(hop: UInt64, origin: [UInt8], unit: UInt64, _ range: Range<Int>, of total: Int,
                         part: UInt16 = 0, partCount: UInt16 = 1) throws -> Frame {
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Batch(host: host, events: events(unit: unit, range)))
        let batchOrigin = BatchOrigin(spoolID: origin, first: unit, last: unit,
                                      fragmentStart: UInt32(range.lowerBound), unitEvents: [UInt32(total)])
        return .batch(BatchFrame(sequence: hop, part: part, partCount: partCount, origin: batchOrigin, batch: sealed))
    }

    static func expectedLines(units: ClosedRange<UInt64>, perUnit: Int) -> [String] {
        units.flatMap { unit in (0..<perUnit).map { line(unit: unit, event: $0) } }
    }

    // MARK: - Talking to the receiver

    /// A `logferry receive` with a spool, an output directory and a metrics endpoint, no key.
    struct Receiver {
        var node: FerryNode
        var out: String
        var metricsPort: Int
        var port: Int { node.port }
    }

    static func receiver(_ scene: FerryScene) async throws -> Receiver {
        let out = try scene.path("out", create: true)
        let metricsPort = try freeTCPPort()
        let node = try await scene.node("receiver", [
            "receive", "--spool", try scene.path("spool-receiver"), "--out", out,
            "--metrics-listen", "127.0.0.1:\(metricsPort)",
        ])
        return Receiver(node: node, out: out, metricsPort: metricsPort)
    }

    /// The value of the receiver's counter `name` (0 when it has not been touched yet).
    static func metric(_ receiver: Receiver, _ name: String) async throws -> Double {
        let port = receiver.metricsPort
        try await waitUntil("the receiver's metrics endpoint", deadline: .seconds(30)) {
            httpGet(port: port, path: "/metrics") != nil
        }
        return httpGet(port: port, path: "/metrics").flatMap { metricValue($0, name) } ?? 0
    }

    /// A new relay (its own hop spool id) sends `units` of `origin`, 10 events each, as its record 1 and waits for
    /// the ack.
    static func viaNewRelay(_ port: Int, _ name: String, origin: [UInt8], units: ClosedRange<UInt64>) async throws {
        try await RawFerryConnection.with(port: port) { relay in
            _ = try await welcome(relay, hopID: randomID(), name: name)
            try await relay.send(wholeUnits(hop: 1, origin: origin, units: units, perUnit: 10))
            try await acks(relay, through: 1, name)
        }
    }

    /// Handshakes as hop `hopID`; fails unless welcomed. Returns the welcome.
    @discardableResult
    static func welcome(_ connection: RawFerryConnection, hopID: [UInt8], name: String = "relay") async throws -> Welcome {
        let answer = try await connection.handshake(spoolID: hopID, hostName: name, key: nil)
        guard case .welcome(let welcome) = answer else {
            throw DedupTestError("\(name): expected a welcome, got \(String(describing: answer))")
        }
        return welcome
    }

    /// Reads frames until `stop` holds for one (included); fails if the connection closes first or after 30 s.
    static func frames(_ connection: RawFerryConnection, _ what: String,
                       until stop: @escaping @Sendable (Frame) -> Bool) async throws -> [Frame] {
        try await withDeadline(.seconds(30), what) {
            var frames: [Frame] = []
            while true {
                guard let frame = try await connection.nextFrame() else {
                    throw DedupTestError("the receiver closed the connection while waiting for \(what); frames so far: \(frames)")
                }
                frames.append(frame)
                if stop(frame) { return frames }
            }
        }
    }

    /// Reads frames until an ack of `sequence` or more; fails on any refusal. Returns every ack seen.
    @discardableResult
    static func acks(_ connection: RawFerryConnection, through sequence: UInt64, _ name: String) async throws -> [UInt64] {
        let frames = try await frames(connection, "\(name): ack \(sequence)") { frame in
            switch frame {
            case .ack(let acked): acked >= sequence
            case .refuse: true
            default: false
            }
        }
        let refusals = frames.filter { if case .refuse = $0 { true } else { false } }
        guard refusals.isEmpty else {
            throw DedupTestError("\(name): refused while waiting for ack \(sequence): \(frames)")
        }
        return frames.compactMap { if case .ack(let acked) = $0 { acked } else { nil } }
    }

    /// Sends one batch of another origin into the same output file, on a fresh connection, waits for its ack
    /// and then for its line in the file: everything stored before it is written by then. Returns its line.
    static func sentinel(port: Int, out: String, _ label: String) async throws -> String {
        let line = "sentinel-\(label)"
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Batch(host: host, events: [
            Event(timestamp: 1, source: source, line: Array(line.utf8)),
        ]))
        try await RawFerryConnection.with(port: port) { connection in
            try await welcome(connection, hopID: randomID(), name: "sentinel")
            try await connection.send(.batch(BatchFrame(
                sequence: 1, origin: BatchOrigin(spoolID: randomID(), sequence: 1, events: 1), batch: sealed)))
            try await acks(connection, through: 1, "sentinel")
        }
        let path = outputPath(out)
        try await waitUntil("the sentinel line in \(path)", deadline: .seconds(30)) {
            readLines(path).contains(line)
        }
        return line
    }

    static func outputPath(_ out: String) -> String { out + "/\(host)/\(source).log" }

    /// The lines of `path` (no file: none).
    static func readLines(_ path: String) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        var lines = String(decoding: data, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        if lines.last == "" { lines.removeLast() }
        return lines
    }

    /// Waits for the sentinel, then checks the output holds every line of `expected` exactly once, the sentinel
    /// once, and nothing else.
    ///
    /// The file sink deduplicates by origin too, so the output alone would not show a listener that stores a
    /// copy twice: the listener must also have stored exactly `stored` events (plus the sentinel) since it
    /// started, and the file sink must have met no copy (`sinkDuplicates`, nil: not checked).
    static func expectExactly(
        _ expected: [String], receiver: Receiver, scene: FerryScene, _ label: String,
        stored: Int, sinkDuplicates: Int? = 0
    ) async throws {
        let port = receiver.port
        let out = receiver.out
        let sentinel = try await sentinel(port: port, out: out, label)
        let storedEvents = try await metric(receiver, "logferry_ferry_listener_events_total")
        #expect(storedEvents == Double(stored + 1),
                "\(label): the listener stored \(storedEvents) events, \(stored) + the sentinel expected")
        if let sinkDuplicates {
            let duplicates = try await metric(receiver, "logferry_file_sink_duplicate_batches_total")
            #expect(duplicates == Double(sinkDuplicates),
                    "\(label): the file sink met \(duplicates) copies of batches in its spool, \(sinkDuplicates) expected")
        }
        let path = outputPath(out)
        // Expected count including the sentinel; the sentinel is in, so this holds at once unless lines are missing.
        _ = try? await waitUntil("\(expected.count + 1) lines in \(path)", deadline: .seconds(5)) {
            readLines(path).count >= expected.count + 1
        }
        let lines = readLines(path)
        var counts: [String: Int] = [:]
        for line in lines { counts[line, default: 0] += 1 }
        let wanted = Set(expected + [sentinel])
        let missing = expected.filter { counts[$0] == nil }
        let doubled = counts.filter { $0.value > 1 }.map { "\($0.key) ×\($0.value)" }.sorted()
        let unexpected = counts.keys.filter { !wanted.contains($0) }.sorted()
        let ok = missing.isEmpty && doubled.isEmpty && unexpected.isEmpty && lines.count == expected.count + 1
        #expect(ok, """
            \(label): \(lines.count) lines written, \(expected.count) + sentinel expected; \
            missing \(missing.count) \(missing.prefix(20)); doubled \(doubled.count) \(doubled.prefix(20)); \
            unexpected \(unexpected.prefix(20))
            receiver stderr:
            \(ok ? "" : scene.diagnostics())
            """)
        // Host directories never start with a dot; the file sink keeps its state in `OUT/.logferry`.
        let hosts = ((try? FileManager.default.contentsOfDirectory(atPath: out)) ?? []).filter { !$0.hasPrefix(".") }
        #expect(hosts == [host], "\(label): output only under \(host), found \(hosts)")
    }

    // MARK: - Tests

    @Test("the same batch frame twice in one write: one ack of 1, its lines written once")
    func sameFrameTwiceInOneWrite() async throws {
        try await FerryScene.run("ferry-dedup-twice") { scene in
            let receiver = try await Self.receiver(scene)
            let origin = Self.randomID()
            let frame = try Self.wholeUnits(hop: 1, origin: origin, units: 1...1, perUnit: 20)
            let bytes = frame.encodedBytes()
            try await RawFerryConnection.with(port: receiver.port) { connection in
                try await Self.welcome(connection, hopID: Self.randomID())
                try await connection.send(bytes: bytes + bytes)
                var frames = try await Self.frames(connection, "the first ack") { frame in
                    switch frame {
                    case .ack, .refuse: true
                    default: false
                    }
                }
                // Give a second ack (or a refusal) of the copy time to arrive, then fence with a heartbeat.
                try await Task.sleep(for: .seconds(1))
                try await connection.send(.heartbeat)
                frames += try await Self.frames(connection, "the heartbeat answer") { $0 == .heartbeat }
                let acks = frames.compactMap { if case .ack(let acked) = $0 { acked } else { nil } }
                let refusals = frames.filter { if case .refuse = $0 { true } else { false } }
                #expect(acks == [1], "exactly one ack, of 1, expected; frames received: \(frames)")
                #expect(zip(acks, acks.dropFirst()).allSatisfy { $0 < $1 }, "acks must strictly increase: \(acks)")
                #expect(refusals.isEmpty, "no refusal expected: \(frames)")
            }
            try await Self.expectExactly(Self.expectedLines(units: 1...1, perUnit: 20),
                                         receiver: receiver, scene: scene, "twice-in-one-write", stored: 20)
        }
    }

    @Test("the same origin batches through two relays at the same moment: written once, both acknowledged")
    func sameOriginTwoRelaysConcurrently() async throws {
        try await FerryScene.run("ferry-dedup-concurrent") { scene in
            let receiver = try await Self.receiver(scene)
            let origin = Self.randomID()
            let rounds: UInt64 = 16
            let perUnit = 200
            let frames = try (1...rounds).map { unit in
                try Self.wholeUnits(hop: unit, origin: origin, units: unit...unit, perUnit: perUnit)
            }
            try await RawFerryConnection.with(port: receiver.port) { x in
                try await RawFerryConnection.with(port: receiver.port) { y in
                    try await Self.welcome(x, hopID: Self.randomID(), name: "relay-x")
                    try await Self.welcome(y, hopID: Self.randomID(), name: "relay-y")
                    // Round by round: the same frame (same hop sequence, same origin) on both at once.
                    for (index, frame) in frames.enumerated() {
                        let hop = UInt64(index + 1)
                        async let ackedX: [UInt64] = {
                            try await x.send(frame)
                            return try await Self.acks(x, through: hop, "relay-x")
                        }()
                        async let ackedY: [UInt64] = {
                            try await y.send(frame)
                            return try await Self.acks(y, through: hop, "relay-y")
                        }()
                        let (ax, ay) = try await (ackedX, ackedY)
                        #expect(ax.last == hop && ay.last == hop, "round \(hop): acks x \(ax), y \(ay)")
                    }
                }
            }
            try await Self.expectExactly(Self.expectedLines(units: 1...rounds, perUnit: perUnit),
                                         receiver: receiver, scene: scene, "concurrent", stored: Int(rounds) * perUnit)
        }
    }

    @Test("out of order through two relays: 111...120 via X, then 100...110 via Y; none dropped, none doubled")
    func outOfOrderThroughTwoRelays() async throws {
        try await FerryScene.run("ferry-dedup-out-of-order") { scene in
            let receiver = try await Self.receiver(scene)
            let origin = Self.randomID()
            try await Self.viaNewRelay(receiver.port, "relay-x", origin: origin, units: 111...120)
            try await Self.viaNewRelay(receiver.port, "relay-y", origin: origin, units: 100...110)
            try await Self.expectExactly(Self.expectedLines(units: 100...120, perUnit: 10),
                                         receiver: receiver, scene: scene, "out-of-order", stored: 210)
        }
    }

    @Test("partial overlap of merged batches: 100...110 via X, then 105...115 via Y; every unit once")
    func partialOverlap() async throws {
        try await FerryScene.run("ferry-dedup-overlap") { scene in
            let receiver = try await Self.receiver(scene)
            let origin = Self.randomID()
            try await Self.viaNewRelay(receiver.port, "relay-x", origin: origin, units: 100...110)
            try await Self.viaNewRelay(receiver.port, "relay-y", origin: origin, units: 105...115)
            try await Self.expectExactly(Self.expectedLines(units: 100...115, perUnit: 10),
                                         receiver: receiver, scene: scene, "overlap", stored: 160)
        }
    }

    @Test("fragments: X sends events 0..<5 of unit 7, Y the whole unit, X events 5..<10; all 10 lines once")
    func fragmentsAndWholeUnit() async throws {
        try await FerryScene.run("ferry-dedup-fragments") { scene in
            let receiver = try await Self.receiver(scene)
            let origin = Self.randomID()
            try await RawFerryConnection.with(port: receiver.port) { x in
                try await RawFerryConnection.with(port: receiver.port) { y in
                    try await Self.welcome(x, hopID: Self.randomID(), name: "relay-x")
                    try await Self.welcome(y, hopID: Self.randomID(), name: "relay-y")
                    try await x.send(Self.fragment(hop: 1, origin: origin, unit: 7, 0..<5, of: 10))
                    try await Self.acks(x, through: 1, "relay-x first fragment")
                    try await y.send(Self.wholeUnits(hop: 1, origin: origin, units: 7...7, perUnit: 10))
                    try await Self.acks(y, through: 1, "relay-y whole unit")
                    try await x.send(Self.fragment(hop: 2, origin: origin, unit: 7, 5..<10, of: 10))
                    try await Self.acks(x, through: 2, "relay-x second fragment")
                }
            }
            try await Self.expectExactly(Self.expectedLines(units: 7...7, perUnit: 10),
                                         receiver: receiver, scene: scene, "fragments", stored: 10)
        }
    }

    @Test("fragments cut differently by two relays (0..<4, 2..<7, 4..<10, then the whole unit): all 10 lines once")
    func fragmentsCutDifferently() async throws {
        try await FerryScene.run("ferry-dedup-fragments-cut") { scene in
            let receiver = try await Self.receiver(scene)
            let origin = Self.randomID()
            try await RawFerryConnection.with(port: receiver.port) { x in
                try await RawFerryConnection.with(port: receiver.port) { y in
                    try await Self.welcome(x, hopID: Self.randomID(), name: "relay-x")
                    try await Self.welcome(y, hopID: Self.randomID(), name: "relay-y")
                    try await x.send(Self.fragment(hop: 1, origin: origin, unit: 7, 0..<4, of: 10))
                    try await Self.acks(x, through: 1, "relay-x 0..<4")
                    try await y.send(Self.fragment(hop: 1, origin: origin, unit: 7, 2..<7, of: 10))
                    try await Self.acks(y, through: 1, "relay-y 2..<7")
                    try await x.send(Self.fragment(hop: 2, origin: origin, unit: 7, 4..<10, of: 10))
                    try await Self.acks(x, through: 2, "relay-x 4..<10")
                    try await y.send(Self.wholeUnits(hop: 2, origin: origin, units: 7...7, perUnit: 10))
                    try await Self.acks(y, through: 2, "relay-y whole unit")
                }
            }
            try await Self.expectExactly(Self.expectedLines(units: 7...7, perUnit: 10),
                                         receiver: receiver, scene: scene, "fragments-cut", stored: 10)
        }
    }

    @Test("a split record on X (part 0: events 0..<5) with Y's whole unit between its parts: all 10 lines once")
    func splitRecordInterleaved() async throws {
        try await FerryScene.run("ferry-dedup-split") { scene in
            let receiver = try await Self.receiver(scene)
            let origin = Self.randomID()
            try await RawFerryConnection.with(port: receiver.port) { x in
                try await RawFerryConnection.with(port: receiver.port) { y in
                    try await Self.welcome(x, hopID: Self.randomID(), name: "relay-x")
                    try await Self.welcome(y, hopID: Self.randomID(), name: "relay-y")
                    try await x.send(Self.fragment(hop: 1, origin: origin, unit: 7, 0..<5, of: 10, part: 0, partCount: 2))
                    // Let X's part 0 be admitted before Y's copy comes in (a heartbeat answer follows it in order).
                    try await x.send(.heartbeat)
                    let early = try await Self.frames(x, "relay-x heartbeat answer") { $0 == .heartbeat || $0.kind == .refuse }
                    #expect(!early.contains { $0.kind == .refuse }, "relay-x: \(early)")
                    try await y.send(Self.wholeUnits(hop: 1, origin: origin, units: 7...7, perUnit: 10))
                    try await Self.acks(y, through: 1, "relay-y whole unit")
                    try await x.send(Self.fragment(hop: 1, origin: origin, unit: 7, 5..<10, of: 10, part: 1, partCount: 2))
                    try await Self.acks(x, through: 1, "relay-x record 1 (both parts)")
                }
            }
            try await Self.expectExactly(Self.expectedLines(units: 7...7, perUnit: 10),
                                         receiver: receiver, scene: scene, "split", stored: 10)
        }
    }

    @Test("kill -9 of the receiver after 3 acknowledged; restarted on its spool, the same frames resent: nothing doubled")
    func killNineThenResend() async throws {
        try await FerryScene.run("ferry-dedup-kill9") { scene in
            let receiver = try await Self.receiver(scene)
            let origin = Self.randomID()
            let hopA = Self.randomID()
            let perUnit = 50
            let frames = try (UInt64(1)...3).map { unit in
                try Self.wholeUnits(hop: unit, origin: origin, units: unit...unit, perUnit: perUnit)
            }
            try await RawFerryConnection.with(port: receiver.port) { a in
                try await Self.welcome(a, hopID: hopA, name: "relay-a")
                try await a.send(bytes: frames.flatMap { $0.encodedBytes() })
                try await Self.acks(a, through: 3, "relay-a")
                // Kill as soon as the file sink has begun writing the output file: most likely before its
                // first commit (it fsyncs the file, then its state, then moves its spool cursor).
                let path = Self.outputPath(receiver.out)
                let started = ContinuousClock.now
                while (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0 == 0,
                    ContinuousClock.now - started < .seconds(5)
                {
                    try await Task.sleep(for: .microseconds(200))
                }
                await receiver.node.kill9()
            }
            try await receiver.node.start()
            // The same relay comes back: the welcome says the receiver holds its records through 3 (records at
            // or below the resume point would be ignored without an ack). It has lost its own cursor and spooled
            // the same origin batches again, as its records 4...6: recognised by origin.
            try await RawFerryConnection.with(port: receiver.port) { a in
                let welcome = try await Self.welcome(a, hopID: hopA, name: "relay-a again")
                #expect(welcome.resumeSequence == 3, "the restarted receiver should resume relay-a after 3: \(welcome)")
                let again = try (UInt64(1)...3).map { unit in
                    try Self.wholeUnits(hop: 3 + unit, origin: origin, units: unit...unit, perUnit: perUnit)
                }
                try await a.send(bytes: again.flatMap { $0.encodedBytes() })
                try await Self.acks(a, through: 6, "relay-a again")
            }
            // Another relay carries the same origin batches.
            try await RawFerryConnection.with(port: receiver.port) { b in
                try await Self.welcome(b, hopID: Self.randomID(), name: "relay-b")
                try await b.send(bytes: frames.flatMap { $0.encodedBytes() })
                try await Self.acks(b, through: 3, "relay-b")
            }
            try await Self.expectExactly(Self.expectedLines(units: 1...3, perUnit: perUnit),
                                         receiver: receiver, scene: scene, "kill9",
                                         // This run of the listener stores nothing but the sentinel; the file
                                         // sink may meet records it replays after the crash.
                                         stored: 0, sinkDuplicates: nil)
        }
    }

    @Test("a version-1 client hello is refused as unsupported-version, naming version 2")
    func versionOneRefused() async throws {
        try await FerryScene.run("ferry-dedup-v1") { scene in
            let receiver = try await Self.receiver(scene)
            try await RawFerryConnection.with(port: receiver.port) { connection in
                let answer = try await connection.handshake(spoolID: Self.randomID(), hostName: "old-agent", key: nil, version: 1)
                guard case .refuse(let refusal) = answer else {
                    Issue.record("expected a refusal, got \(String(describing: answer))")
                    return
                }
                #expect(refusal.code == .unsupportedVersion, "\(refusal)")
                #expect(refusal.sequence == 0)
                #expect(refusal.reason.contains("1"), "the reason should name the offered version 1: \(refusal.reason)")
                #expect(refusal.reason.range(of: #"\b2\b"#, options: .regularExpression) != nil,
                        "the reason should name version 2: \(refusal.reason)")
                #expect(try await connection.framesUntilClosed().isEmpty, "the connection should close after the refusal")
            }
        }
    }
}

/// A step of a dedup test went other than expected.
struct DedupTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
