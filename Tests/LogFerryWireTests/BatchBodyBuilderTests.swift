import LogFerryDeflate
import LogFerryTestSupport
import LogFerryWire
import Testing

@Suite("Batch body builder")
struct BatchBodyBuilderTests {
    /// The batch's events without their fields: what the builder takes.
    private static func withoutFields(_ batch: Batch) -> Batch {
        Batch(host: batch.host, events: batch.events.map { Event(timestamp: $0.timestamp, source: $0.source, line: $0.line) })
    }

    private static func build(_ batch: Batch, into builder: inout BatchBodyBuilder, encoder: inout BatchEncoder) throws -> SealedBatch {
        for event in batch.events {
            event.line.withUnsafeBytes { builder.append(line: $0, source: event.source, timestamp: event.timestamp) }
        }
        #expect(builder.eventCount == batch.events.count)
        return try encoder.encode(&builder, host: batch.host)
    }

    @Test("lines built as they come seal to the same bytes as the same events encoded whole, with every backend")
    func sameBytesAsEvents() throws {
        var rng = SeededGenerator(seed: 0xB0D1_0001)
        for backend in DeflateBackend.allCases {
            var encoder = BatchEncoder(level: 1, compressor: backend)
            var reference = BatchEncoder(level: 1, compressor: backend)
            var decoder = BatchDecoder()
            // One builder for every round: each finish must leave it empty and reusable.
            var builder = BatchBodyBuilder(capacity: 1 << 16)
            for round in 0..<30 {
                let batch = Self.withoutFields(
                    Samples.randomBatch(using: &rng, events: round == 0 ? 0 : Int.random(in: 1...300, using: &rng)))
                let built = try Self.build(batch, into: &builder, encoder: &encoder)
                #expect(builder.isEmpty && builder.byteCount == 0)
                #expect(built == (try reference.encode(batch)), "round \(round), \(backend)")
                #expect(try decoder.decode(built) == batch)
            }
        }
    }

    @Test("a header larger than the room kept for it (thousands of long source names) still seals correctly")
    func headerOutgrowsItsRoom() throws {
        let sources = (0..<200).map { "/var/log/" + String(repeating: "d", count: 40) + "/app-\($0).log" }
        let events = (0..<1_000).map {
            Event(timestamp: 1_700_000_000_000_000_000 + UInt64($0), source: sources[$0 % sources.count],
                  line: Array("line \($0)".utf8))
        }
        let batch = Batch(host: String(repeating: "h", count: 100), events: events)
        var builder = BatchBodyBuilder()
        var encoder = BatchEncoder()
        var reference = BatchEncoder()
        var decoder = BatchDecoder()
        let built = try Self.build(batch, into: &builder, encoder: &encoder)
        #expect(built == (try reference.encode(batch)))
        #expect(try decoder.decode(built) == batch)
        // And the builder is back to its ordinary path for the next batch.
        let small = Batch(host: "h", events: [Event(timestamp: 5, source: "stdin", line: Array("x".utf8))])
        #expect(try decoder.decode(try Self.build(small, into: &builder, encoder: &encoder)) == small)
    }
}
