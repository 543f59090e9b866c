import LogFerryBytes
import LogFerryDeflate
import LogFerryTestSupport
import LogFerryWire
import Testing

/// The codec with every deflate backend: whichever compresses, whichever inflates, the batch comes back,
/// and a damaged batch is the same operator-readable error.
@Suite("Batch codec across deflate backends")
struct BatchBackendTests {
    @Test("batches sealed by every compressor decode with every inflater, at levels 0, 1, 6 and 9", arguments: DeflateBackend.allCases)
    func everyPair(_ compressor: DeflateBackend) throws {
        var rng = SeededGenerator(seed: 0xBAC0_0001)
        for level in [0, 1, 6, 9] {
            var encoder = BatchEncoder(level: level, compressor: compressor)
            #expect(encoder.compressor == compressor)
            #expect(compressor.levels.contains(encoder.level))
            var decoders = InflateBackend.allCases.map { BatchDecoder(inflater: $0) }
            for round in 0..<10 {
                let batch = Samples.randomBatch(using: &rng, events: round == 0 ? 0 : Int.random(in: 1...200, using: &rng))
                let sealed = try encoder.encode(batch)
                // Plain zlib reads it: the wire stays RFC 1950 whatever the backend.
                #expect(ReferenceZlib.uncompress(sealed.compressed, size: Int(sealed.uncompressedSize)) != nil)
                for index in decoders.indices {
                    #expect(try decoders[index].decode(sealed) == batch, "\(compressor) level \(level) -> \(decoders[index].inflaterBackend)")
                }
            }
        }
    }

    @Test("every split part fits the frame limit whichever backend compresses", arguments: DeflateBackend.allCases)
    func splitsFit(_ compressor: DeflateBackend) throws {
        var rng = SeededGenerator(seed: 0xBAC0_0002)
        let batch = Samples.randomBatch(using: &rng, events: 300)
        let limits = WireLimits(maxFrameBytes: 4096, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 1 << 10, maxWindow: 1)
        var encoder = BatchEncoder(level: 1, compressor: compressor)
        var zlibEncoder = BatchEncoder(level: 1, compressor: .zlib)
        let parts = try encoder.encodeParts(batch, fitting: limits)
        // The split depends on the events and the limits only, never on the backend.
        #expect(parts.map(\.eventCount) == (try zlibEncoder.encodeParts(batch, fitting: limits)).map(\.eventCount))
        #expect(parts.count > 1)
        for part in parts {
            #expect(limits.admits(part), "\(compressor): \(part.compressed.count) compressed bytes")
        }
    }

    @Test("a damaged batch is the same error kind with either inflater", arguments: InflateBackend.allCases)
    func damagedBatches(_ inflater: InflateBackend) throws {
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Samples.vectorBatch)
        func label(_ compressed: [UInt8], size: UInt32) -> String {
            var decoder = BatchDecoder(inflater: inflater)
            let damaged = SealedBatch(eventCount: sealed.eventCount, uncompressedSize: size,
                                      crc32c: CRC32C.checksum(compressed), compressed: compressed)
            do {
                _ = try decoder.decode(damaged)
                return "decoded"
            } catch {
                #expect(!error.description.isEmpty)
                return error.label
            }
        }
        let size = sealed.uncompressedSize
        #expect(label(sealed.compressed + [7], size: size) == "trailing_data")
        #expect(label(sealed.compressed, size: size + 1) == "size_mismatch")
        #expect(label(sealed.compressed, size: size - 1) == "inflate_limit_exceeded")
        var badAdler = sealed.compressed
        badAdler[badAdler.count - 1] ^= 0x40
        #expect(label(badAdler, size: size) == "zlib")
        for cut in [1, sealed.compressed.count / 2, sealed.compressed.count - 1] {
            #expect(["stream_not_ended", "zlib"].contains(label(Array(sealed.compressed[..<cut]), size: size)), "cut at \(cut)")
        }
        let bomb = ReferenceZlib.deflateZeros(total: 64 << 20)
        #expect(label(bomb, size: 1024) == "inflate_limit_exceeded")
    }

    @Test("a corrupt stream reads as corrupt data, naming the library, and is refused as malformed")
    func corruptDescription() throws {
        var encoder = BatchEncoder()
        let sealed = try encoder.encode(Samples.vectorBatch)
        var bad = sealed.compressed
        bad[bad.count - 2] ^= 0xFF
        for inflater in InflateBackend.allCases {
            var decoder = BatchDecoder(inflater: inflater)
            let error = #expect(throws: WireError.self) {
                try decoder.decode(SealedBatch(eventCount: sealed.eventCount, uncompressedSize: sealed.uncompressedSize,
                                               crc32c: CRC32C.checksum(bad), compressed: bad))
            }
            #expect(error?.description.contains("corrupt zlib stream") == true, "\(String(describing: error))")
            #expect(error?.description.contains(inflater.rawValue) == true, "\(String(describing: error))")
            #expect(error?.refusalCode == .malformed)
        }
    }
}
