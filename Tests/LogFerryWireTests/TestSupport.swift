import CZlib
import Foundation
import LogFerryWire

/// SplitMix64: a tiny seeded generator so every random test is reproducible from its seed.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension RandomNumberGenerator {
    mutating func bytes(_ count: Int) -> [UInt8] {
        (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &self) }
    }
}

enum Samples {
    /// A random batch mixing empty, text, multi-line and binary lines, several sources and some fields.
    static func randomBatch(using rng: inout SplitMix64, events count: Int, maxLine: Int = 300) -> Batch {
        let sources = ["/var/log/nginx/access.log", "stdin", "syslog", "/var/log/app/é-ünïcode.log"]
        var timestamp = UInt64.random(in: 1_600_000_000_000_000_000...1_800_000_000_000_000_000, using: &rng)
        var events: [Event] = []
        for _ in 0..<count {
            // Mostly forward, sometimes backward (clock steps) or far jumps.
            switch Int.random(in: 0..<10, using: &rng) {
            case 0: timestamp &-= UInt64.random(in: 0...1_000_000, using: &rng)
            case 1: timestamp = UInt64.random(in: 0...UInt64.max, using: &rng)
            default: timestamp &+= UInt64.random(in: 0...10_000_000, using: &rng)
            }
            let line: [UInt8]
            switch Int.random(in: 0..<5, using: &rng) {
            case 0: line = []
            case 1: line = rng.bytes(Int.random(in: 1...maxLine, using: &rng))
            case 2: line = Array("GET /index.html HTTP/1.1\nat Foo.bar(Foo.java:42)\n\tat main".utf8)
            default: line = Array("request id=\(rng.next()) took \(rng.next() % 1000) ms".utf8)
            }
            var fields: [String: String] = [:]
            if Int.random(in: 0..<4, using: &rng) == 0 {
                fields["host"] = "web-\(rng.next() % 8)"
                if Bool.random(using: &rng) { fields["app"] = "nginx" }
                if Bool.random(using: &rng) { fields["ключ"] = "значение" }
            }
            events.append(Event(
                timestamp: timestamp, source: sources[Int.random(in: 0..<sources.count, using: &rng)], line: line,
                fields: fields))
        }
        return Batch(host: "host-\(rng.next() % 100).example.org", events: events)
    }

    /// One of every frame type, with fixed contents (the test vectors use these).
    static func everyFrame(sealed: SealedBatch) -> [(name: String, frame: Frame)] {
        let nonce = (0..<32).map { UInt8($0) }
        let spoolID = (0..<16).map { UInt8(0xA0 + $0) }
        let key = Array("correct horse battery staple".utf8)
        let proof = HandshakeAuth.proof(key: key, nonce: nonce, spoolID: spoolID, hostName: "web-1")
        return [
            ("server-hello", .serverHello(ServerHello(versionMin: 2, versionMax: 2, nonce: nonce, limits: .default))),
            ("client-hello", .clientHello(ClientHello(version: 2, spoolID: spoolID, hostName: "web-1", proof: proof))),
            ("client-hello-no-key", .clientHello(ClientHello(version: 2, spoolID: spoolID, hostName: "web-1", proof: []))),
            ("welcome", .welcome(Welcome(resumeSequence: 41))),
            ("batch", .batch(BatchFrame(sequence: 42, origin: origin(spoolID, 42...42, [3]), batch: sealed))),
            ("batch-relayed", .batch(BatchFrame(
                sequence: 7, origin: origin(originID, 40...42, [1, 1, 1]), batch: sealed))),
            ("batch-part", .batch(BatchFrame(
                sequence: 43, part: 1, partCount: 3, origin: origin(originID, 43...43, [9], fragmentStart: 3), batch: sealed))),
            ("ack", .ack(42)),
            ("refuse", .refuse(Refusal(sequence: 43, code: .retryLater, reason: "spool full"))),
            ("heartbeat", .heartbeat),
            ("bye", .bye("shutting down")),
        ]
    }

    /// The origin spool id of the relayed vectors (bytes b0…bf).
    static let originID = (0..<16).map { UInt8(0xB0 + $0) }

    /// An origin from its parts.
    static func origin(_ id: [UInt8], _ units: ClosedRange<UInt64>, _ counts: [UInt32], fragmentStart: UInt32 = 0) -> BatchOrigin {
        BatchOrigin(spoolID: id, first: units.lowerBound, last: units.upperBound, fragmentStart: fragmentStart, unitEvents: counts)
    }

    /// The origin of a whole batch of `events` events sealed as `sequence` by spool a0…af.
    static func ownOrigin(_ sequence: UInt64, events: UInt32 = 3) -> BatchOrigin {
        origin((0..<16).map { UInt8(0xA0 + $0) }, sequence...sequence, [events])
    }

    /// The batch of the compressed-batch test vector.
    static let vectorBatch = Batch(
        host: "web-1",
        events: [
            Event(timestamp: 1_700_000_000_000_000_000, source: "/var/log/nginx/access.log",
                  line: Array(#"10.0.0.1 - - "GET / HTTP/1.1" 200 612"#.utf8)),
            Event(timestamp: 1_700_000_000_000_500_000, source: "syslog", line: Array("disk ok\nsecond line".utf8),
                  fields: ["app": "smartd", "host": "web-1"]),
            Event(timestamp: 1_699_999_999_999_000_000, source: "/var/log/nginx/access.log", line: [0x00, 0xFF, 0x0A]),
        ])

    static let vectorKey = Array("correct horse battery staple".utf8)
}

enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ string: String) -> [UInt8]? {
        let chars = Array(string.utf8)
        guard chars.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        var index = 0
        while index < chars.count {
            guard let high = nibble(chars[index]), let low = nibble(chars[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
        default: nil
        }
    }
}

enum ZlibTestSupport {
    /// Compresses `total` zero bytes by streaming a 1 MiB zero buffer through deflate, so a 1 GiB bomb
    /// never needs 1 GiB of memory.
    static func deflateZeros(total: Int, level: Int32 = 9) -> [UInt8] {
        // zlib's state points back at the z_stream, so it needs a fixed address.
        let stream = UnsafeMutablePointer<z_stream>.allocate(capacity: 1)
        stream.initialize(to: z_stream())
        precondition(logferry_deflateInit2(stream, level, Z_DEFLATED, 15, 9, Z_DEFAULT_STRATEGY) == Z_OK)
        defer {
            deflateEnd(stream)
            stream.deallocate()
        }
        let chunk = [UInt8](repeating: 0, count: 1 << 20)
        var output = [UInt8](repeating: 0, count: 1 << 16)
        var compressed: [UInt8] = []
        var remaining = total
        chunk.withUnsafeBytes { input in
            repeat {
                let count = min(remaining, chunk.count)
                remaining -= count
                let flush = remaining == 0 ? Z_FINISH : Z_NO_FLUSH
                stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
                stream.pointee.avail_in = uInt(count)
                var status: Int32
                repeat {
                    status = output.withUnsafeMutableBytes { out in
                        stream.pointee.next_out = out.baseAddress?.assumingMemoryBound(to: Bytef.self)
                        stream.pointee.avail_out = uInt(out.count)
                        return deflate(stream, flush)
                    }
                    compressed.append(contentsOf: output[..<(output.count - Int(stream.pointee.avail_out))])
                } while stream.pointee.avail_out == 0 || (flush == Z_FINISH && status != Z_STREAM_END)
            } while remaining > 0
        }
        return compressed
    }

    /// Plain zlib compression of `bytes` (a stream that is not a valid batch body, for size tests).
    static func compress(_ bytes: [UInt8]) -> [UInt8] {
        var length = compressBound(uLong(bytes.count))
        var out = [UInt8](repeating: 0, count: Int(length))
        let status = compress2(&out, &length, bytes, uLong(bytes.count), 6)
        precondition(status == Z_OK)
        return Array(out[..<Int(length)])
    }
}

extension ZlibTestSupport {
    /// Plain zlib decompression of `compressed` into exactly `size` bytes.
    static func uncompress(_ compressed: [UInt8], size: Int) -> [UInt8]? {
        var length = uLong(size)
        var out = [UInt8](repeating: 0, count: max(size, 1))
        guard CZlib.uncompress(&out, &length, compressed, uLong(compressed.count)) == Z_OK, Int(length) == size else {
            return nil
        }
        return Array(out[..<size])
    }

    /// The version of the zlib linked in.
    static var version: String { String(cString: zlibVersion()) }
}
