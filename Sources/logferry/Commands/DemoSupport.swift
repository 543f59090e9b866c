import Foundation

/// Writes nginx-like sample lines, each with a unique `seq=`, into `DIR/app.log`, rotating it
/// (rename to `app.log.1`, new `app.log`) half-way.
struct SampleLogWriter {
    let directory: String

    /// Writes `lines` lines as fast as possible, or `rate` lines a second for `seconds`; reports progress
    /// about four times a second. Returns the number of lines written.
    func write(lines: Int?, seconds: Int, rate: Int, progress: (Int) async -> Void) async throws -> Int {
        let total = lines ?? seconds * rate
        let path = directory + "/app.log"
        guard var handle = FileHandle(forWritingAtPath: path) ?? create(path) else { throw DemoError("cannot write \(path)") }
        var written = 0
        var rotated = false
        let started = ContinuousClock.now
        var lastReport = started
        var chunk = ""
        chunk.reserveCapacity(256 * 1024)
        while written < total {
            let step = min(1000, total - written)
            chunk.removeAll(keepingCapacity: true)
            for i in written..<(written + step) { chunk += Self.line(i) }
            handle.write(Data(chunk.utf8))
            written += step
            if !rotated, written >= total / 2 {
                try handle.close()
                try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
                guard let fresh = create(path) else { throw DemoError("cannot create \(path)") }
                handle = fresh
                rotated = true
            }
            if lines == nil {
                // Pace to the rate.
                let due = started + .seconds(Double(written) / Double(max(rate, 1)))
                if due > .now { try await Task.sleep(until: due, clock: .continuous) }
            }
            if ContinuousClock.now - lastReport >= .milliseconds(250) {
                await progress(written)
                lastReport = .now
            }
        }
        try handle.close()
        return written
    }

    private func create(_ path: String) -> FileHandle? {
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        return FileHandle(forWritingAtPath: path)
    }

    /// One sample line: an nginx access-log line with a unique sequence number.
    static func line(_ i: Int) -> String {
        let ip = "10.\(i % 251).\((i / 251) % 251).\(i % 7 + 1)"
        let paths = ["/", "/api/orders", "/api/users/\(i % 9973)", "/static/app.js", "/health"]
        let status = [200, 200, 200, 304, 404, 500][i % 6]
        let seq = String(i)
        return "\(ip) - - [26/Nov/2026:14:55:52 +0000] \"GET \(paths[i % paths.count]) HTTP/1.1\" \(status) \(512 + i % 4096) \"-\" \"Mozilla/5.0 (X11; Linux x86_64)\" seq=\(String(repeating: "0", count: max(0, 9 - seq.count)) + seq)\n"
    }
}

/// Counts and checks the received lines: every `seq=` once.
enum DemoCheck {
    struct Result {
        var received: Int
        var missing: Int
        var duplicated: Int
        var files: [String]
    }

    static func files(_ directory: String) -> [String] {
        guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
        return walker.compactMap { $0 as? String }.filter { $0.hasSuffix(".log") || $0.contains(".log.") }.map { directory + "/" + $0 }.sorted()
    }

    static func count(_ directory: String) throws -> Int {
        var lines = 0
        for file in files(directory) {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            lines += data.reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
        }
        return lines
    }

    static func verify(_ directory: String, expected: Int) throws -> Result {
        var seen = [UInt8](repeating: 0, count: expected)
        var received = 0
        var duplicated = 0
        let marker = Array("seq=".utf8)
        for file in files(directory) {
            guard let data = FileManager.default.contents(atPath: file) else { continue }
            for line in data.split(separator: 0x0A) {
                received += 1
                let bytes = Array(line)
                guard bytes.count >= marker.count + 9,
                    Array(bytes[(bytes.count - 13)..<(bytes.count - 9)]) == marker,
                    let n = Int(String(decoding: bytes.suffix(9), as: UTF8.self)), n < expected
                else { continue }
                if seen[n] != 0 { duplicated += 1 } else { seen[n] = 1 }
            }
        }
        let missing = seen.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }
        return Result(received: received, missing: missing, duplicated: duplicated, files: files(directory))
    }
}
