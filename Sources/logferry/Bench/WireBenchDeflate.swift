import Foundation
import LogFerryDeflate
import LogFerryWire

/// The deflate-backend table of `logferry bench wire`: one compressor alone on the batch bodies (compress
/// MB/s and ratio), and both inflaters on its output, with the backend's state reused across bodies as
/// the codec reuses it.
enum WireBenchDeflate {
    struct Result {
        var level: Int
        var compressMBps: Double
        var ratio: Double
        var libdeflateInflateMBps: Double
        var zlibInflateMBps: Double
    }

    /// The uncompressed batch bodies of `batches`, exactly as the encoder writes them.
    static func bodies(of batches: [Batch]) throws -> [[UInt8]] {
        var encoder = BatchEncoder(level: 0, compressor: .zlib)
        let inflater = DeflateInflater(backend: .libdeflate)
        return try batches.map { batch in
            let sealed = try encoder.encode(batch)
            return try inflater.inflate(sealed.compressed, declaredSize: Int(sealed.uncompressedSize), limit: Int(UInt32.max))
        }
    }

    /// Compresses every body with `backend` at `level`, then inflates the results with libdeflate and with
    /// zlib; the fastest of `repetitions` runs of each is kept.
    static func measure(bodies: [[UInt8]], backend: DeflateBackend, level: Int, repetitions: Int) throws -> Result {
        let compressor = DeflateCompressor(backend: backend, level: level)
        let capacity = compressor.outputCapacity(bodies.map(\.count).max() ?? 0)
        var output = [UInt8](repeating: 0, count: capacity)
        let bodyBytes = Double(bodies.reduce(0) { $0 + $1.count })

        var compressed: [[UInt8]] = []
        let compressTime = try fastest(repetitions) {
            compressed.removeAll(keepingCapacity: true)
            for body in bodies {
                let count = try body.withUnsafeBytes { input in
                    try output.withUnsafeMutableBytes { try compressor.compress(input, into: $0) }
                }
                compressed.append(Array(output[..<count]))
            }
        }
        let compressedBytes = Double(compressed.reduce(0) { $0 + $1.count })

        var inflateTimes: [InflateBackend: Double] = [:]
        var buffer = [UInt8](repeating: 0, count: bodies.map(\.count).max() ?? 0)
        for inflateBackend in InflateBackend.allCases {
            let inflater = DeflateInflater(backend: inflateBackend)
            inflateTimes[inflateBackend] = try fastest(repetitions) {
                for (stream, body) in zip(compressed, bodies) {
                    try stream.withUnsafeBytes { input in
                        try buffer.withUnsafeMutableBytes { whole in
                            try inflater.inflate(input, into: UnsafeMutableRawBufferPointer(rebasing: whole[..<body.count]))
                        }
                    }
                }
            }
            // Check once that the bytes came back, outside the timing.
            for (stream, body) in zip(compressed, bodies) {
                guard try inflater.inflate(stream, declaredSize: body.count, limit: body.count) == body else {
                    throw ValidationErrorText("\(inflateBackend) does not give back what \(backend) compressed")
                }
            }
        }
        return Result(
            level: compressor.level,
            compressMBps: bodyBytes / compressTime / 1e6,
            ratio: bodyBytes / max(compressedBytes, 1),
            libdeflateInflateMBps: bodyBytes / (inflateTimes[.libdeflate] ?? .infinity) / 1e6,
            zlibInflateMBps: bodyBytes / (inflateTimes[.zlib] ?? .infinity) / 1e6
        )
    }

    private static func fastest(_ repetitions: Int, _ body: () throws -> Void) throws -> Double {
        var best = Double.infinity
        for _ in 0..<max(1, repetitions) {
            let start = ContinuousClock.now
            try body()
            let elapsed = ContinuousClock.now - start
            best = min(best, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        }
        return best
    }
}

/// A bench failure with a sentence.
struct ValidationErrorText: Error, CustomStringConvertible {
    var description: String

    init(_ description: String) {
        self.description = description
    }
}

extension WireBenchCorpus {
    /// The lines of the file at `path` as batches of at most `batchBytes` line bytes (at least one line
    /// each), all from one source, timestamps one microsecond apart.
    static func read(path: String, batchBytes: Int) throws -> [Batch] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationErrorText("cannot read the corpus \(path)")
        }
        var batches: [Batch] = []
        var events: [Event] = []
        var bytes = 0
        var timestamp: UInt64 = 1_700_000_000_000_000_000
        for line in data.split(separator: 0x0A, omittingEmptySubsequences: true) {
            if !events.isEmpty, bytes + line.count > batchBytes {
                batches.append(Batch(host: "bench-host", events: events))
                events.removeAll(keepingCapacity: true)
                bytes = 0
            }
            timestamp += 1_000
            events.append(Event(timestamp: timestamp, source: "/var/log/nginx/access.log", line: Array(line)))
            bytes += line.count
        }
        if !events.isEmpty { batches.append(Batch(host: "bench-host", events: events)) }
        return batches
    }
}
