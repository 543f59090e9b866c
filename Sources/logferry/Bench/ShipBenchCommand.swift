import ArgumentParser
import Foundation
import LogFerrySpool
import LogFerryWire

/// `logferry bench ship`: one sender into one receiver on loopback, batches of about 1 MiB uncompressed, under
/// fsync `always` and `interval`: lines/s, MB/s, and CPU seconds per GB on each side.
///
/// The sender is `logferry agent --exit-when-drained` over a spool filled beforehand (so only shipping is
/// measured); the receiver is `logferry receive` writing raw files. Both are real processes; their CPU comes
/// from the kernel's accounting.
struct ShipBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ship",
        abstract: "Ship a pre-filled spool to a receiver on loopback; lines/s, MB/s and CPU s/GB per side."
    )

    @Option(name: .long, help: "Uncompressed megabytes to ship.")
    var megabytes: Int = 512

    @Option(name: .long, help: "fsync policies of the receiver to measure, comma-separated.")
    var fsync: String = "always,interval"

    func run() async throws {
        let root = try BenchFiles.temporaryDirectory("ship")
        // Kept on failure, for the logs it names.
        var succeeded = false
        defer { if succeeded { try? FileManager.default.removeItem(atPath: root) } }
        let linesPerBatch = 5_000
        let lineCount = megabytes * (1 << 20) / 205
        print("generating \(lineCount) lines (~\(megabytes) MB) in batches of \(linesPerBatch) (~1 MiB) ...")
        var encoder = BatchEncoder(level: 1)
        let template = root + "/sender-template"
        var uncompressed = 0
        var compressed = 0
        var expectedOutput = 0
        do {
            let spool = try await Spool.open(SpoolConfiguration(directory: template, fsync: .never))
            for batch in WireBenchCorpus.make(lines: lineCount, batchSize: linesPerBatch, seed: 42) {
                let sealed = try encoder.encode(batch)
                uncompressed += Int(sealed.uncompressedSize)
                compressed += sealed.compressed.count
                expectedOutput += batch.events.reduce(0) { $0 + $1.line.count + 1 }
                _ = try await spool.append(sealed.serialized())
            }
            await spool.close()
        }
        let gigabytes = Double(uncompressed) / 1e9
        print("\(uncompressed / 1_000_000) MB uncompressed, \(compressed / 1_000_000) MB on the wire (zlib 1), machine: \(ProcessInfo.processInfo.activeProcessorCount) cores\n")
        print("fsync     | ship s | lines/s    | MB/s  | +file sink s | sender CPU s/GB | receiver CPU s/GB")
        for policy in fsync.split(separator: ",").map(String.init) {
            let run = root + "/run-\(policy)"
            try FileManager.default.createDirectory(atPath: run, withIntermediateDirectories: true)
            try FileManager.default.copyItem(atPath: template, toPath: run + "/sender")
            let receiver = try BenchProcess(
                ["receive", "--listen", "127.0.0.1:0", "--spool", run + "/receiver", "--out", run + "/out", "--fsync", policy, "--log-level", "warning"],
                logPath: run + "/receiver.log"
            )
            defer { receiver.stop() }
            let port = try await receiver.listeningPort()
            let cpuBefore = BenchProcess.reapedChildrenCPU()
            let started = ContinuousClock.now
            let sender = try BenchProcess(
                ["agent", "--spool", run + "/sender", "--to", "127.0.0.1:\(port)", "--exit-when-drained", "--log-level", "warning"],
                logPath: run + "/sender.log"
            )
            sender.process.waitUntilExit()
            let shipped = ContinuousClock.now - started
            let senderCPU = BenchProcess.reapedChildrenCPU() - cpuBefore
            guard sender.process.terminationStatus == 0 else {
                throw BenchError("the sender exited with \(sender.process.terminationStatus); see \(run)/sender.log")
            }
            guard try await BenchFiles.waitForBytes(run + "/out", expectedOutput, timeout: .seconds(300)) else {
                throw BenchError("the receiver did not write everything; see \(run)/receiver.log")
            }
            let written = ContinuousClock.now - started
            let receiverCPU = receiver.cpuSeconds
            let seconds = shipped.seconds
            print([
                policy.padding(toLength: 9, withPad: " ", startingAt: 0),
                BenchFiles.format(seconds, 2).leftPadded(6),
                String(Int(Double(lineCount) / seconds)).leftPadded(10),
                BenchFiles.format(Double(uncompressed) / 1e6 / seconds).leftPadded(5),
                BenchFiles.format(written.seconds, 2).leftPadded(12),
                BenchFiles.format(senderCPU / gigabytes, 2).leftPadded(15),
                BenchFiles.format(receiverCPU / gigabytes, 2).leftPadded(17),
            ].joined(separator: " | "))
        }
        print("\nship s: until the sender has every batch acked (durable in the receiver's spool); +file sink s: until the receiver's files hold every line.")
        print("CPU s/GB: per GB of uncompressed log data. The receiver's CPU includes its file sink.")
        succeeded = true
    }
}

extension String {
    /// Right-aligns the string in `width` columns.
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
