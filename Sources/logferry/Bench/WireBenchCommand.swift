import ArgumentParser
import LogFerryDeflate
import LogFerryWire

/// `logferry bench wire`: the batch codec against bare zlib on the same bytes, in the same run.
///
/// Encode is build + compress + CRC32C of a `Batch` into a `SealedBatch`; decode is CRC + capped inflate +
/// parse back into a `Batch`. The baseline compresses and inflates exactly the same batch bodies with zlib
/// alone (a reused `z_stream`, as the codec does), so the ratio is the codec's own cost. Validate is the relay
/// path: every check of decode, without building the events.
///
/// `--compressor` and `--inflater` choose the codec's deflate backends; the "backend" table then measures
/// the chosen compressor alone (compress MB/s, ratio) and both inflaters on its output, on the same bodies,
/// so backends compare on one corpus (`--corpus FILE --batch-bytes 1048576` for 1 MiB batches of a file).
struct WireBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire",
        abstract: "Batch codec encode/decode throughput against bare zlib at levels 1 and 6, and a deflate backend alone."
    )

    @Option(help: "Deflate library of the encoder and of the backend table: isal, libdeflate or zlib.")
    var compressor: String = "isal"

    @Option(help: "Inflate library of the decoder: libdeflate or zlib.")
    var inflater: String = "libdeflate"

    @Option(help: "Read the lines of this file (e.g. made by bench/gen.sh) instead of generating a corpus.")
    var corpus: String?

    @Option(help: "With --corpus: cut batches at this many line bytes (1048576 for 1 MiB batches).")
    var batchBytes: Int = 1 << 20

    @Option(help: "Levels to measure, comma-separated.")
    var levels: String = "1,6"

    @Option(help: "Lines in the generated corpus.")
    var lines: Int = 200_000

    @Option(help: "Lines per batch.")
    var batchSize: Int = 2_000

    @Option(help: "Timed repetitions of each measurement; the fastest is reported.")
    var repetitions: Int = 5

    @Option(help: "Seed of the corpus generator.")
    var seed: UInt64 = 1

    func run() throws {
        guard let backend = DeflateBackend(configValue: compressor) else {
            throw ValidationError("--compressor must be isal, libdeflate or zlib, not '\(compressor)'")
        }
        guard let inflateBackend = InflateBackend(configValue: inflater) else {
            throw ValidationError("--inflater must be libdeflate or zlib, not '\(inflater)'")
        }
        let levelList = levels.split(separator: ",").compactMap { Int($0.filter { $0 != " " }) }
        guard !levelList.isEmpty, levelList.allSatisfy({ (0...12).contains($0) }) else {
            throw ValidationError("--levels must be comma-separated levels 0 to 12, not '\(levels)'")
        }
        let batches: [Batch]
        if let corpus {
            batches = try WireBenchCorpus.read(path: corpus, batchBytes: batchBytes)
        } else {
            batches = WireBenchCorpus.make(lines: lines, batchSize: batchSize, seed: seed)
        }
        let lineCount = batches.reduce(0) { $0 + $1.events.count }
        let lineBytes = batches.reduce(0) { $0 + $1.events.reduce(0) { $0 + $1.line.count } }
        print("corpus: \(lineCount) lines in \(batches.count) batches, \(lineBytes) line bytes (avg \(lineBytes / max(lineCount, 1)) B/line)")
        print("codec: compressor \(backend), inflater \(inflateBackend)")
        print("MB/s counts uncompressed batch body bytes; ratio = codec time / bare zlib time")
        print("")
        print(pad("level", 6) + pad("op", 10) + pad("codec MB/s", 12) + pad("lines/s", 12) + pad("zlib MB/s", 12)
            + pad("ratio", 8) + "compressed")
        for level in levelList {
            try measure(level: level, batches: batches, backend: backend, inflater: inflateBackend)
        }
        print("")
        print("backend alone on the same bodies (compression ratio = body bytes / compressed bytes):")
        print(pad("backend", 12) + pad("level", 6) + pad("compress MB/s", 15) + pad("ratio", 8)
            + pad("inflate MB/s (libdeflate)", 27) + "inflate MB/s (zlib)")
        let bodies = try WireBenchDeflate.bodies(of: batches)
        for level in levelList {
            let result = try WireBenchDeflate.measure(bodies: bodies, backend: backend, level: level, repetitions: repetitions)
            print(pad("\(backend)", 12) + pad("\(result.level)", 6) + pad(format2(result.compressMBps), 15)
                + pad(format2(result.ratio), 8) + pad(format2(result.libdeflateInflateMBps), 27) + format2(result.zlibInflateMBps))
        }
    }

    private func measure(level: Int, batches: [Batch], backend: DeflateBackend, inflater: InflateBackend) throws {
        var encoder = BatchEncoder(level: level, compressor: backend)
        var decoder = BatchDecoder(inflater: inflater)
        let sealed = try batches.map { try encoder.encode($0) }
        let bodies = try sealed.map { try WireBenchZlib.inflate($0.compressed, size: Int($0.uncompressedSize)) }
        let bodyBytes = Double(bodies.reduce(0) { $0 + $1.count })
        let compressedBytes = Double(sealed.reduce(0) { $0 + $1.compressed.count })
        let lineCount = Double(batches.reduce(0) { $0 + $1.events.count })
        let zlib = WireBenchZlib(level: Int32(level))

        // Codec and baseline alternate, so both see the same machine load; the fastest of each is kept.
        let (encodeTime, compressTime) = try fastestPair({
            for batch in batches { _ = try encoder.encode(batch) }
        }, {
            for body in bodies { try zlib.compress(body) }
        })
        let (decodeTime, inflateTime) = try fastestPair({
            for batch in sealed { _ = try decoder.decode(batch) }
        }, {
            for (batch, body) in zip(sealed, bodies) { try zlib.inflate(batch.compressed, size: body.count) }
        })
        let (validateTime, inflateTime2) = try fastestPair({
            for batch in sealed { try decoder.validate(batch) }
        }, {
            for (batch, body) in zip(sealed, bodies) { try zlib.inflate(batch.compressed, size: body.count) }
        })
        let ratio = String(format2(100 * compressedBytes / bodyBytes)) + "%"
        for (op, codec, bare) in [
            ("encode", encodeTime, compressTime), ("decode", decodeTime, inflateTime), ("validate", validateTime, inflateTime2),
        ] {
            print(pad("\(level)", 6) + pad(op, 10) + pad(format2(bodyBytes / codec / 1e6), 12)
                + pad(format0(lineCount / codec), 12) + pad(format2(bodyBytes / bare / 1e6), 12)
                + pad(format2(codec / bare), 8) + ratio)
        }
    }

    private func fastestPair(_ codec: () throws -> Void, _ baseline: () throws -> Void) throws -> (Double, Double) {
        var best = (Double.infinity, Double.infinity)
        for _ in 0..<max(1, repetitions) {
            best.0 = min(best.0, try seconds(codec))
            best.1 = min(best.1, try seconds(baseline))
        }
        return best
    }

    private func seconds(_ body: () throws -> Void) throws -> Double {
        let start = ContinuousClock.now
        try body()
        let elapsed = ContinuousClock.now - start
        return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
    }
}

private func pad(_ string: String, _ width: Int) -> String {
    string.count >= width ? string + " " : string + String(repeating: " ", count: width - string.count)
}

private func format2(_ value: Double) -> String {
    let scaled = (value * 100).rounded()
    guard scaled.isFinite else { return "-" }
    let integer = Int(scaled)
    let fraction = abs(integer % 100)
    return "\(integer / 100).\(fraction < 10 ? "0" : "")\(fraction)"
}

private func format0(_ value: Double) -> String {
    value.isFinite ? "\(Int(value.rounded()))" : "-"
}
