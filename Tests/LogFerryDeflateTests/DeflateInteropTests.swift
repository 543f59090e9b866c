import LogFerryDeflate
import LogFerryTestSupport
import Testing

/// Every backend writes standard zlib streams: zlib itself reads them, and every inflater reads zlib's.
@Suite("Deflate backends interoperate through the zlib format")
struct DeflateInteropTests {
    /// The inputs every backend must round-trip: empty, one byte, random (incompressible), log-like lines,
    /// and a long run of one byte (the most compressible).
    static func corpora() -> [(name: String, bytes: [UInt8])] {
        var rng = SeededGenerator(seed: 0xDEF1_A7E)
        return [
            ("empty", []),
            ("one byte", [0x41]),
            ("random 100 KiB", rng.bytes(100 << 10)),
            ("log lines 300 KiB", Self.logLines(bytes: 300 << 10, using: &rng)),
            ("zeros 200 KiB", [UInt8](repeating: 0, count: 200 << 10)),
        ]
    }

    /// nginx-like access log lines with random addresses, ids and timings, about 200 bytes each.
    static func logLines(bytes: Int, using rng: inout SeededGenerator) -> [UInt8] {
        let paths = ["/api/v1/orders", "/api/v1/items", "/static/app.js", "/healthz", "/search"]
        let agents = ["curl/8.4.0", "Mozilla/5.0 (X11; Linux x86_64) Firefox/119.0", "Go-http-client/1.1"]
        var out: [UInt8] = []
        out.reserveCapacity(bytes + 256)
        var sequence = 0
        while out.count < bytes {
            sequence += 1
            let line = "seq=\(sequence) 10.\(rng.next() % 256).\(rng.next() % 256).\(rng.next() % 256) - - "
                + "\"GET \(paths[Int(rng.next() % 5)])/\(rng.next() % 100_000) HTTP/1.1\" \([200, 304, 404, 500][Int(rng.next() % 4)]) "
                + "\(rng.next() % 65_536) rt=0.\(rng.next() % 1000) ua=\"\(agents[Int(rng.next() % 3)])\" req_id=\(String(rng.next(), radix: 16))\n"
            out.append(contentsOf: line.utf8)
        }
        return out
    }

    /// The levels tried for `backend`: 0, 1, 6 and 9 where it has them, and its highest.
    static func levels(_ backend: DeflateBackend) -> [Int] {
        Array(Set([0, 1, 6, 9, backend.levels.upperBound].filter { backend.levels.contains($0) })).sorted()
    }

    @Test("the config values name the backends, and nothing else does")
    func configValues() {
        #expect(DeflateBackend(configValue: "isal") == .isal)
        #expect(DeflateBackend(configValue: "libdeflate") == .libdeflate)
        #expect(DeflateBackend(configValue: "zlib") == .zlib)
        for bad in ["", "ISAL", "gzip", "zstd", "isal "] {
            #expect(DeflateBackend(configValue: bad) == nil, "\(bad)")
        }
        #expect(InflateBackend(configValue: "libdeflate") == .libdeflate)
        #expect(InflateBackend(configValue: "zlib") == .zlib)
        #expect(InflateBackend(configValue: "isal") == nil)
    }

    @Test("levels are clamped into what the backend knows")
    func levelClamping() {
        #expect(DeflateCompressor(backend: .isal, level: 9).level == 3)
        #expect(DeflateCompressor(backend: .isal, level: -1).level == 0)
        #expect(DeflateCompressor(backend: .zlib, level: 12).level == 9)
        #expect(DeflateCompressor(backend: .libdeflate, level: 12).level == 12)
        #expect(DeflateCompressor().backend == .isal)
        #expect(DeflateInflater().backend == .libdeflate)
    }

    @Test("every backend's output inflates with zlib and with every inflater, at every level", arguments: DeflateBackend.allCases)
    func backendOutputIsZlib(_ backend: DeflateBackend) throws {
        let corpora = Self.corpora()
        let inflaters = InflateBackend.allCases.map { DeflateInflater(backend: $0) }
        for level in Self.levels(backend) {
            // One compressor for every input: its state must reset between calls.
            let compressor = DeflateCompressor(backend: backend, level: level)
            for (name, bytes) in corpora {
                let compressed = try compressor.compress(bytes)
                let label = "\(backend) level \(level), \(name)"
                #expect(compressed.count <= DeflateCompressor.worstCaseSize(bytes.count), "\(label): \(compressed.count) bytes")
                #expect(ReferenceZlib.uncompress(compressed, size: bytes.count) == bytes, "zlib reads \(label)")
                for inflater in inflaters {
                    let inflated = try inflater.inflate(compressed, declaredSize: bytes.count, limit: 1 << 30)
                    #expect(inflated == bytes, "\(inflater.backend) reads \(label)")
                }
            }
        }
    }

    @Test("zlib's output inflates with every inflater, at levels 0, 1, 6 and 9", arguments: InflateBackend.allCases)
    func zlibOutputInflates(_ backend: InflateBackend) throws {
        let inflater = DeflateInflater(backend: backend)
        for level: Int32 in [0, 1, 6, 9] {
            for (name, bytes) in Self.corpora() {
                let compressed = ReferenceZlib.compress(bytes, level: level)
                let inflated = try inflater.inflate(compressed, declaredSize: bytes.count, limit: 1 << 30)
                #expect(inflated == bytes, "\(backend) reads zlib level \(level), \(name)")
            }
        }
    }

    @Test("log lines compress: every backend's level 1 is well under half the input")
    func logLinesCompress() throws {
        var rng = SeededGenerator(seed: 7)
        let lines = Self.logLines(bytes: 1 << 20, using: &rng)
        for backend in DeflateBackend.allCases {
            let compressed = try DeflateCompressor(backend: backend, level: 1).compress(lines)
            #expect(compressed.count * 2 < lines.count, "\(backend): \(compressed.count) of \(lines.count)")
        }
    }
}
