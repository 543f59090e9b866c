import Foundation
import LogFerryBytes
@testable import LogFerryWire
import Testing
@testable import LogFerryNode

/// The receiver's write path: events scanned in place, formatted without a String each, bodies handed
/// from the listener to the file sink.
@Suite("Receiver path (scan, formatter, inflated-batch hand-off)")
struct ReceiverPathTests {
    static let batch = Batch(host: "edge-ü", events: (0..<300).map { index in
        Event(
            timestamp: 1_764_514_552_000_000_000 + UInt64(index) * 7_000_000,
            source: ["/var/log/a.log", "stdin", "/var/log/b"][index % 3],
            line: Array("line \(index) \(index % 7 == 0 ? "with \\ and \n inside" : "plain")".utf8),
            fields: index % 5 == 0 ? ["app": "x\(index % 2)", "pid": "\(index % 3)"] : [:])
    })

    @Test("scan visits exactly the events decode returns, in order, with their sources and fields")
    func scanMatchesDecode() throws {
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Self.batch)
        var decoder = BatchDecoder()
        let decoded = try decoder.decode(sealed)
        var tables: BatchTables?
        var seen: [Event] = []
        try decoder.scan(sealed) { tables = $0 } event: { view in
            seen.append(Event(
                timestamp: view.timestamp, source: tables?.sources[view.sourceIndex] ?? "?",
                line: [UInt8](view.line), fields: view.fields))
            #expect(view.index == seen.count - 1)
        }
        #expect(tables?.host == Self.batch.host)
        #expect(seen == decoded.events)
        #expect(seen == Self.batch.events)
    }

    @Test("a kept body scans like the sealed batch; a body of another batch is not used")
    func keptBody() throws {
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Self.batch)
        let other = try encoder.encode(Batch(host: "h", events: [Event(timestamp: 1, source: "s", line: Array("other".utf8))]))
        var decoder = BatchDecoder()
        let (host, kept) = try decoder.validate(sealed, keepingBody: true)
        #expect(host == Self.batch.host)
        let inflated = try #require(kept)
        #expect(inflated.belongs(to: sealed))
        #expect(!inflated.belongs(to: other))
        #expect(try decoder.validate(sealed, keepingBody: false).inflated == nil)
        var lines: [[UInt8]] = []
        try decoder.scan(sealed, inflated: inflated, tables: { _ in }) { lines.append([UInt8]($0.line)) }
        #expect(lines == Self.batch.events.map(\.line))
        // Handed the wrong body, the scan inflates the batch it was given.
        lines = []
        try decoder.scan(other, inflated: inflated, tables: { _ in }) { lines.append([UInt8]($0.line)) }
        #expect(lines == [Array("other".utf8)])
    }

    @Test("a spool payload's header reads without the compressed bytes; a kept body scans from the header alone")
    func headerOnly() throws {
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Self.batch)
        let payload = sealed.serialized()
        let header = try SealedBatch.Header(serialized: payload)
        #expect(header == sealed.header)
        #expect(try SealedBatch(serialized: payload) == sealed)
        var decoder = BatchDecoder()
        let inflated = try #require(try decoder.validate(sealed, keepingBody: true).inflated)
        #expect(inflated.belongs(to: header))
        var other = header
        other.crc32c ^= 1
        #expect(!inflated.belongs(to: other))
        var lines: [[UInt8]] = []
        try decoder.scan(inflated, tables: { #expect($0.host == Self.batch.host) }) { lines.append([UInt8]($0.line)) }
        #expect(lines == Self.batch.events.map(\.line))
        // A payload cut inside its header, or of another format version, is refused by the header alone.
        #expect(throws: WireError.self) { try SealedBatch.Header(serialized: Array(payload.prefix(12))) }
        var otherVersion = payload
        otherVersion[0] = 2
        #expect(throws: WireError.self) { try SealedBatch.Header(serialized: otherVersion) }
    }

    @Test("keeping the body refuses what plain validation refuses: a bad CRC, a size the bytes cannot hold, a wrong size, a cut stream")
    func keptBodyRefusals() throws {
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Self.batch)
        var badCRC = sealed
        badCRC.crc32c ^= 1
        var impossible = sealed
        impossible.uncompressedSize = UInt32(sealed.compressed.count * 2_000)
        var shorter = sealed
        shorter.uncompressedSize -= 1
        var cut = sealed
        cut.compressed.removeLast(8)
        cut.crc32c = CRC32C.checksum(cut.compressed)
        for hostile in [badCRC, impossible, shorter, cut] {
            var decoder = BatchDecoder()
            #expect(throws: WireError.self) { try decoder.validate(hostile, keepingBody: false) }
            #expect(throws: WireError.self) { try decoder.validate(hostile, keepingBody: true) }
            // The decoder is still good for the next batch.
            #expect(try decoder.validate(sealed, keepingBody: true).inflated?.belongs(to: sealed) == true)
        }
    }

    @Test("a malformed body found part-way throws after some events were visited")
    func malformedPartWay() throws {
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Self.batch)
        var decoder = BatchDecoder()
        var body = try #require(try decoder.validate(sealed, keepingBody: true).inflated).body
        body.append(0) // a trailing byte: every event parses, the end check fails
        var visited = 0
        #expect(throws: WireError.self) {
            try body.withUnsafeBytes { bytes in
                _ = try BatchBody.scan(bytes, expectedEvents: sealed.eventCount, fields: false, tables: { _ in }) { _ in visited += 1 }
            }
        }
        #expect(visited == Self.batch.events.count)
    }

    @Test("formatter: raw escapes only what it must; json quotes, dates per second, invalid UTF-8 as U+FFFD")
    func formatter() throws {
        var formatter = EventFormatter(format: .raw)
        var out: [UInt8] = []
        for line in ["plain line", "a\\b", "x\ny\rz", "", "\\"] {
            Array(line.utf8).withUnsafeBytes {
                formatter.append(line: $0, timestamp: 0, fields: [:], host: [], source: [], to: &out)
            }
        }
        #expect(String(decoding: out, as: UTF8.self) == "plain line\na\\\\b\nx\\ny\\rz\n\n\\\\\n")

        var json = EventFormatter(format: .json)
        out = []
        let timestamps: [UInt64] = [1_764_514_552_000_000_001, 1_764_514_552_999_999_999, 1_764_514_553_000_000_000]
        for timestamp in timestamps {
            ([0x61, 0x22, 0xFF] as [UInt8]).withUnsafeBytes {
                json.append(
                    line: $0, timestamp: timestamp, fields: ["k": "v\""], host: EventFormatter.jsonString("h\u{1}"),
                    source: EventFormatter.jsonString("s"), to: &out)
            }
        }
        let lines = out.split(separator: 0x0A)
        #expect(lines.count == 3)
        let dates = try lines.map { line -> String in
            let object = try #require(try JSONSerialization.jsonObject(with: Data(line)) as? [String: Any])
            #expect(object["line"] as? String == "a\"\u{FFFD}")
            #expect(object["host"] as? String == "h\u{1}")
            #expect((object["fields"] as? [String: String])?["k"] == "v\"")
            return try #require(object["ts"] as? String)
        }
        #expect(dates == ["2025-11-30T14:55:52.000000001Z", "2025-11-30T14:55:52.999999999Z", "2025-11-30T14:55:53.000000000Z"])
    }

    @Test("the inflated-batch cache hands each body out once and stays within its byte capacity")
    func cache() throws {
        var encoder = BatchEncoder()
        var decoder = BatchDecoder()
        let sealed = try encoder.encode(Self.batch)
        let inflated = try #require(try decoder.validate(sealed, keepingBody: true).inflated)
        let cache = InflatedBatchCache(capacity: inflated.body.count * 3)
        for sequence in 1...10 as ClosedRange<UInt64> { cache.put(inflated, sequence: sequence) }
        #expect(cache.heldBytes <= cache.capacity)
        #expect(cache.take(1) == nil)          // evicted, oldest first
        #expect(cache.take(10) != nil)
        #expect(cache.take(10) == nil)         // once
        #expect(cache.take(9) != nil && cache.take(8) != nil)
        #expect(cache.heldBytes == 0)
        let tiny = InflatedBatchCache(capacity: 1)
        tiny.put(inflated, sequence: 1)        // larger than the whole cache: not kept
        #expect(tiny.take(1) == nil)
    }
}
