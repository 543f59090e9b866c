import LogFerryWire

/// The generated corpus of `logferry bench wire`: nginx access and syslog lines of about 200 bytes with
/// random IPs, ids, paths and timings, from a seeded generator so runs are comparable.
enum WireBenchCorpus {
    static func make(lines: Int, batchSize: Int, seed: UInt64) -> [Batch] {
        var rng = WireBenchRandom(seed: seed)
        let paths = ["/api/v1/items", "/api/v1/users", "/static/app.js", "/login", "/api/v2/orders", "/healthz"]
        let agents = [
            "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
            "curl/8.5.0", "Go-http-client/1.1", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
        ]
        let apps = ["sshd", "cron", "kernel", "systemd", "postfix/smtpd"]
        var timestamp: UInt64 = 1_700_000_000_000_000_000
        var batches: [Batch] = []
        var events: [Event] = []
        events.reserveCapacity(batchSize)
        for index in 0..<lines {
            timestamp += rng.next() % 2_000_000
            let line: String
            if index % 3 != 2 {
                let ip = "\(rng.next() % 223 + 1).\(rng.next() % 256).\(rng.next() % 256).\(rng.next() % 256)"
                let path = paths[Int(rng.next() % UInt64(paths.count))]
                let status = [200, 200, 200, 304, 404, 500][Int(rng.next() % 6)]
                line = "\(ip) - - [14/Nov/2023:22:13:\(10 + rng.next() % 50) +0000] \"GET \(path)/\(rng.next() % 100_000)?req=\(hex(rng.next())) HTTP/1.1\" \(status) \(rng.next() % 50_000) \"https://shop.example.com/p/\(rng.next() % 1_000_000)\" \"\(agents[Int(rng.next() % UInt64(agents.count))])\""
                events.append(Event(timestamp: timestamp, source: "/var/log/nginx/access.log", line: Array(line.utf8)))
            } else {
                let app = apps[Int(rng.next() % UInt64(apps.count))]
                line = "<\(rng.next() % 191)>Nov 14 22:13:\(10 + rng.next() % 50) web-\(rng.next() % 16) \(app)[\(rng.next() % 65_536)]: session \(hex(rng.next())) for user u\(rng.next() % 10_000) from \(rng.next() % 223 + 1).\(rng.next() % 256).\(rng.next() % 256).\(rng.next() % 256) port \(rng.next() % 65_536) ssh2 id=\(hex(rng.next()))"
                events.append(Event(timestamp: timestamp, source: "syslog", line: Array(line.utf8),
                                    fields: ["app": app]))
            }
            if events.count == batchSize {
                batches.append(Batch(host: "bench-host", events: events))
                events.removeAll(keepingCapacity: true)
            }
        }
        if !events.isEmpty { batches.append(Batch(host: "bench-host", events: events)) }
        return batches
    }

    private static func hex(_ value: UInt64) -> String {
        String(value, radix: 16)
    }
}

/// SplitMix64, so the corpus is the same on every run with the same seed.
struct WireBenchRandom {
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
