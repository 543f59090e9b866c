import LogFerryBytes
import LogFerryTestSupport
import LogFerryWire
import Testing

@Suite("Hostile sealed batches")
struct BatchHostileTests {
    private func seal(_ compressed: [UInt8], events: UInt32, size: UInt32) -> SealedBatch {
        SealedBatch(eventCount: events, uncompressedSize: size, crc32c: CRC32C.checksum(compressed), compressed: compressed)
    }

    private func expectError(_ label: String, _ sealed: SealedBatch, limits: WireLimits = .default,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        var decoder = BatchDecoder(limits: limits)
        let error = #expect(throws: WireError.self, sourceLocation: sourceLocation) { try decoder.decode(sealed) }
        #expect(error?.label == label, "\(error.map(String.init(describing:)) ?? "no error")", sourceLocation: sourceLocation)
        let validateError = #expect(throws: WireError.self, sourceLocation: sourceLocation) { try decoder.validate(sealed) }
        #expect(validateError?.label == label, sourceLocation: sourceLocation)
    }

    @Test("a zip bomb (1 GiB of zeros declared as 1 KiB) stops at 1 KiB")
    func zipBomb() {
        let bomb = ReferenceZlib.deflateZeros(total: 1 << 30)
        #expect(bomb.count < 2 << 20)
        expectError("inflate_limit_exceeded", seal(bomb, events: 1, size: 1024))
    }

    @Test("a zip bomb declared at its real size is refused by the limit before inflating")
    func zipBombOverLimit() {
        let bomb = ReferenceZlib.deflateZeros(total: 80 << 20, level: 1)
        expectError("uncompressed_too_large", seal(bomb, events: 1, size: 80 << 20))
    }

    @Test("a declared size larger than the stream is a size mismatch")
    func sizeMismatch() throws {
        var encoder = BatchEncoder()
        var sealed = try encoder.encode(Samples.vectorBatch)
        sealed.uncompressedSize += 1
        expectError("size_mismatch", sealed)
        sealed.uncompressedSize -= 2
        expectError("inflate_limit_exceeded", sealed)
    }

    @Test("a wrong CRC is caught before inflating")
    func wrongCRC() throws {
        var encoder = BatchEncoder()
        var sealed = try encoder.encode(Samples.vectorBatch)
        sealed.crc32c ^= 1
        expectError("crc_mismatch", sealed)
    }

    @Test("every truncation of the compressed stream is refused")
    func truncatedStream() throws {
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Samples.vectorBatch)
        for cut in 0..<sealed.compressed.count {
            let compressed = Array(sealed.compressed[..<cut])
            var decoder = BatchDecoder()
            let error = #expect(throws: WireError.self) {
                try decoder.decode(seal(compressed, events: sealed.eventCount, size: sealed.uncompressedSize))
            }
            #expect(["stream_not_ended", "zlib"].contains(error?.label ?? ""), "cut at \(cut): \(String(describing: error))")
        }
    }

    @Test("bytes after the end of the zlib stream are trailing data")
    func trailingGarbage() throws {
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Samples.vectorBatch)
        expectError("trailing_data", seal(sealed.compressed + [0], events: sealed.eventCount, size: sealed.uncompressedSize))
    }

    @Test("an event count that disagrees with the body, or exceeds the limit, is refused")
    func eventCounts() throws {
        var encoder = BatchEncoder()
        var sealed = try encoder.encode(Samples.vectorBatch)
        sealed.eventCount += 1
        expectError("malformed", sealed)
        let limits = WireLimits(maxFrameBytes: 1 << 20, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 2, maxWindow: 1)
        expectError("too_many_events", try encoder.encode(Samples.vectorBatch), limits: limits)
    }

    @Test("a valid zlib stream holding a garbage body is malformed or truncated, never a crash")
    func garbageBody() {
        var rng = SeededGenerator(seed: 11)
        for length in [0, 1, 2, 5, 17, 100, 1000] {
            let body = rng.bytes(length)
            let compressed = ReferenceZlib.compress(body)
            var decoder = BatchDecoder()
            let error = #expect(throws: WireError.self) {
                try decoder.decode(seal(compressed, events: 3, size: UInt32(length)))
            }
            #expect(["malformed", "truncated", "trailing_data"].contains(error?.label ?? ""))
        }
    }

    @Test("a sealed batch serialized form with a bad header is refused")
    func serializedHeader() {
        #expect(throws: WireError.self) { try SealedBatch(serialized: []) }
        #expect(throws: WireError.self) { try SealedBatch(serialized: [1, 0, 0]) }
        #expect(throws: WireError.self) { try SealedBatch(serialized: [2] + [UInt8](repeating: 0, count: 12)) }
        #expect((try? SealedBatch(serialized: [1] + [UInt8](repeating: 0, count: 12)))?.compressed == [])
    }

    @Test("100,000 seeded mutations of sealed batches give a typed error or a batch, never a crash")
    func mutations() throws {
        var rng = SeededGenerator(seed: 0xBAD_5EED)
        var encoder = BatchEncoder()
        let originals = try (0..<8).map { _ in
            try encoder.encode(Samples.randomBatch(using: &rng, events: Int.random(in: 0...12, using: &rng), maxLine: 40))
        }
        var decoder = BatchDecoder(limits: WireLimits(maxFrameBytes: 1 << 16, maxUncompressedBytes: 1 << 16,
                                                      maxEventsPerBatch: 1 << 10, maxWindow: 1))
        var decoded = 0
        for _ in 0..<100_000 {
            var bytes = originals[Int.random(in: 0..<originals.count, using: &rng)].serialized()
            Mutator.mutate(&bytes, using: &rng)
            do {
                var sealed = try SealedBatch(serialized: bytes)
                // Most mutations would stop at the CRC; re-seal half of them so inflate and parse see them too.
                if Bool.random(using: &rng) { sealed.crc32c = CRC32C.checksum(sealed.compressed) }
                _ = try decoder.decode(sealed)
                decoded += 1
            } catch {
                #expect(!error.description.isEmpty)
            }
        }
        #expect(decoded < 100_000)
    }
}

/// Seeded byte-level mutations: flips, overwrites, insertions, deletions, truncations, big-endian u32 pokes.
enum Mutator {
    static func mutate(_ bytes: inout [UInt8], using rng: inout SeededGenerator) {
        let rounds = Int.random(in: 1...4, using: &rng)
        for _ in 0..<rounds {
            let position = bytes.isEmpty ? 0 : Int.random(in: 0..<bytes.count, using: &rng)
            switch Int.random(in: 0..<7, using: &rng) {
            case 0 where !bytes.isEmpty:
                bytes[position] ^= 1 << UInt8.random(in: 0..<8, using: &rng)
            case 1 where !bytes.isEmpty:
                bytes[position] = UInt8.random(in: .min ... .max, using: &rng)
            case 2:
                bytes.insert(UInt8.random(in: .min ... .max, using: &rng), at: position)
            case 3 where !bytes.isEmpty:
                bytes.remove(at: position)
            case 4:
                bytes.removeLast(Int.random(in: 0...bytes.count, using: &rng))
            case 5 where bytes.count >= 4:
                let at = Int.random(in: 0...(bytes.count - 4), using: &rng)
                let value: UInt32 = [0, 1, 0x7FFF_FFFF, 0xFFFF_FFFF, UInt32.random(in: 0...UInt32.max, using: &rng)][
                    Int.random(in: 0..<5, using: &rng)]
                withUnsafeBytes(of: value.bigEndian) { bytes.replaceSubrange(at..<(at + 4), with: $0) }
            default:
                if !bytes.isEmpty { bytes[position] = [0x00, 0x7F, 0x80, 0xFF][Int.random(in: 0..<4, using: &rng)] }
            }
        }
    }
}
