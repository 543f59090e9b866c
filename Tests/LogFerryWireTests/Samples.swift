import LogFerryTestSupport
import LogFerryWire

/// Batches and frames for the codec and vector tests.
enum Samples {
    /// A random batch mixing empty, text, multi-line and binary lines, several sources and some fields.
    static func randomBatch(using rng: inout SeededGenerator, events count: Int, maxLine: Int = 300) -> Batch {
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
