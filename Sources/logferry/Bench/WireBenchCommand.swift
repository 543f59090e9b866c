import ArgumentParser
import LogFerryWire

/// `logferry bench wire`: the batch codec against bare zlib on the same bytes, in the same run.
///
/// Encode is build + compress + CRC32C of a `Batch` into a `SealedBatch`; decode is CRC + capped inflate +
/// parse back into a `Batch`. The baseline compresses and inflates exactly the same batch bodies with zlib
/// alone (a reused `z_stream`, as the codec does), so the ratio is the codec's own cost. Validate is the relay
/// path: every check of decode, without building the events.
struct WireBenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wire",
        abstract: "Batch codec encode/decode throughput against bare zlib at levels 1 and 6."
    )

    @Option(help: "Lines in the generated corpus.")
    var lines: Int = 200_000

    @Option(help: "Lines per batch.")
    var batchSize: Int = 2_000

    @Option(help: "Timed repetitions of each measurement; the fastest is reported.")
    var repetitions: Int = 5

    @Option(help: "Seed of the corpus generator.")
    var seed: UInt64 = 1

    func run() throws {
        let batches = WireBenchCorpus.make(lines: lines, batchSize: batchSize, seed: seed)
        let lineBytes = batches.reduce(0) { $0 + $1.events.reduce(0) { $0 + $1.line.count } }
        print("corpus: \(lines) lines in \(batches.count) batches, \(lineBytes) line bytes (avg \(lineBytes / max(lines, 1)) B/line)")
        print("MB/s counts uncompressed batch body bytes; ratio = codec time / bare zlib time (target <= 1.15)")
        print("")
        print(pad("level", 6) + pad("op", 10) + pad("codec MB/s", 12) + pad("lines/s", 12) + pad("zlib MB/s", 12)
            + pad("ratio", 8) + "compressed")
        for level in [1, 6] {
            try measure(level: level, batches: batches)
        }
    }

    private func measure(level: Int, batches: [Batch]) throws {
        var encoder = BatchEncoder(level: level)
        var decoder = BatchDecoder()
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
