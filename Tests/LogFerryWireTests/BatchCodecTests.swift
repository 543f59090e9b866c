import LogFerryTestSupport
import LogFerryWire
import Testing

@Suite("Batch codec round trips")
struct BatchCodecTests {
    @Test("random batches round-trip at levels 0, 1, 6 and 9")
    func randomRoundTrips() throws {
        var rng = SeededGenerator(seed: 0x5EED_0001)
        for level in [0, 1, 6, 9] {
            var encoder = BatchEncoder(level: level)
            var decoder = BatchDecoder()
            for round in 0..<40 {
                let batch = Samples.randomBatch(using: &rng, events: round == 0 ? 0 : Int.random(in: 1...200, using: &rng))
                let sealed = try encoder.encode(batch)
                #expect(sealed.eventCount == UInt32(batch.events.count))
                #expect(try decoder.decode(sealed) == batch)
                try decoder.validate(sealed)
                #expect(try SealedBatch(serialized: sealed.serialized()) == sealed)
            }
        }
    }

    @Test("empty lines, binary lines with every byte value, and embedded newlines survive")
    func awkwardLines() throws {
        let events = [
            Event(timestamp: 0, source: "", line: []),
            Event(timestamp: .max, source: "bin", line: (0...255).map { UInt8($0) }),
            Event(timestamp: 1, source: "stack", line: Array("Exception\n\tat a\r\n\tat b\n".utf8)),
            Event(timestamp: 0, source: "", line: [], fields: ["": ""]),
        ]
        let batch = Batch(host: "", events: events)
        var encoder = BatchEncoder()
        var decoder = BatchDecoder()
        #expect(try decoder.decode(try encoder.encode(batch)) == batch)
    }

    @Test("a 1 MiB line round-trips")
    func oneMebibyteLine() throws {
        var rng = SeededGenerator(seed: 7)
        let line = rng.bytes(1 << 20)
        let batch = Batch(host: "h", events: [Event(timestamp: 5, source: "big", line: line)])
        var encoder = BatchEncoder()
        var decoder = BatchDecoder()
        let sealed = try encoder.encode(batch)
        #expect(sealed.uncompressedSize > 1 << 20)
        #expect(try decoder.decode(sealed) == batch)
    }

    @Test("100,000 tiny lines round-trip")
    func manyTinyLines() throws {
        var events: [Event] = []
        for index in 0..<100_000 {
            let source = index % 3 == 0 ? "a" : "b"
            events.append(Event(timestamp: 1_700_000_000_000_000_000 + UInt64(index), source: source, line: [UInt8(index & 0xFF)]))
        }
        let batch = Batch(host: "tiny", events: events)
        var encoder = BatchEncoder()
        var decoder = BatchDecoder()
        let sealed = try encoder.encode(batch)
        #expect(sealed.eventCount == 100_000)
        #expect(try decoder.decode(sealed) == batch)
    }

    @Test("sources are stored once in the header, not per event")
    func sourceTable() throws {
        let source = String(repeating: "/very/long/path/", count: 20)
        let batch = Batch(host: "h", events: (0..<1000).map { _ in Event(timestamp: 0, source: source, line: []) })
        var encoder = BatchEncoder(level: 0)
        let sealed = try encoder.encode(batch)
        #expect(Int(sealed.uncompressedSize) < source.utf8.count + 1000 * 4 + 64)
    }

    @Test("equal batches encode to equal bytes whatever the field order in memory")
    func deterministic() throws {
        var fields: [String: String] = [:]
        for i in 0..<50 { fields["k\(i)"] = "v\(i)" }
        let a = Batch(host: "h", events: [Event(timestamp: 1, source: "s", line: [1], fields: fields)])
        var b = a
        b.events[0].fields = Dictionary(uniqueKeysWithValues: fields.reversed().map { ($0.key, $0.value) })
        var encoder = BatchEncoder()
        #expect(try encoder.encode(a) == encoder.encode(b))
    }

    @Test("encodeParts keeps a batch whole when it fits and splits it deterministically when not")
    func splitting() throws {
        var rng = SeededGenerator(seed: 99)
        let batch = Samples.randomBatch(using: &rng, events: 1000)
        var encoder = BatchEncoder()
        var decoder = BatchDecoder()
        #expect(try encoder.encodeParts(batch, fitting: .default).count == 1)

        let tight = WireLimits(maxFrameBytes: 16 << 10, maxUncompressedBytes: 12 << 10, maxEventsPerBatch: 100, maxWindow: 4)
        let parts = try encoder.encodeParts(batch, fitting: tight)
        #expect(parts.count > 10)
        var events: [Event] = []
        for part in parts {
            #expect(tight.admits(part))
            let decoded = try decoder.decode(part)
            #expect(decoded.host == batch.host)
            events += decoded.events
        }
        #expect(events == batch.events)
        // Same input, same limits: same partition.
        let again = try encoder.encodeParts(batch, fitting: tight)
        #expect(again.map(\.eventCount) == parts.map(\.eventCount))
    }

    @Test("encodeParts refuses an event that cannot fit any part")
    func eventTooLarge() throws {
        let batch = Batch(host: "h", events: [Event(timestamp: 0, source: "s", line: [UInt8](repeating: 1, count: 5000))])
        let tiny = WireLimits(maxFrameBytes: 1 << 20, maxUncompressedBytes: 1000, maxEventsPerBatch: 10, maxWindow: 1)
        var encoder = BatchEncoder()
        let error = #expect(throws: WireError.self) { try encoder.encodeParts(batch, fitting: tiny) }
        #expect(error?.label == "event_too_large")
    }

    @Test("a reused encoder and decoder give the same results as fresh ones")
    func reuse() throws {
        var rng = SeededGenerator(seed: 3)
        var reused = BatchEncoder()
        var reusedDecoder = BatchDecoder()
        for _ in 0..<20 {
            let batch = Samples.randomBatch(using: &rng, events: Int.random(in: 0...300, using: &rng))
            var fresh = BatchEncoder()
            let sealed = try reused.encode(batch)
            #expect(sealed == (try fresh.encode(batch)))
            #expect(try reusedDecoder.decode(sealed) == batch)
        }
    }
}
