import ArgumentParser
import Foundation
import LogFerryNode

/// `logferry bench fanin`: N agents into one relay or receiver. N ferry sessions run in this process, each with
/// its own spool id and origin host, each sending `--batches-per-agent` batches at `--rate` batches per second
/// through the real client state machine; the listener is a real `logferry receive` (or `relay`) child process
/// whose memory, CPU and file descriptors are read from /proc.
///
/// One row per (agents, rate) pair, each against a fresh listener, so its peak RSS belongs to that row alone.
/// The listener keeps up while accepted ≈ offered; raise `--rate` to find where it stops.
struct FaninBenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fanin",
        abstract: "Many concurrent ferry sessions into one listener: rates, ack latency, fairness, the listener's RSS, CPU and fds.",
        discussion: """
            Example: logferry bench fanin --agents 100,1000,5000 --rate 1
            Find where it stops keeping up: logferry bench fanin --agents 1000 --rate 1,4,16,64
            """
    )

    @Option(name: .long, help: "Concurrent sessions (agents), comma-separated for several rows.")
    var agents: String = "100,1000"

    @Option(name: .long, help: "Batches each session sends.")
    var batchesPerAgent: Int = 10

    @Option(name: .long, help: "Lines in each batch (~90 bytes each).")
    var linesPerBatch: Int = 100

    @Option(name: .long, help: "Batches per second each session offers, comma-separated for several rows.")
    var rate: String = "1"

    @Option(name: .long, help: "Send to this listener (HOST:PORT) instead of starting one; its process figures are then not shown.")
    var target: String?

    @Option(name: .long, help: "The listener to start: receive (writes files) or relay (spools only; its upstream is down).")
    var node: String = "receive"

    @Option(name: .long, help: "fsync policy of the listener started.")
    var fsync: String = "always"

    @Option(name: .long, help: "Batches in flight per session at most.")
    var window: Int = 16

    @Option(name: .long, help: "Give up on a row after this many seconds.")
    var timeout: Int = 300

    func validate() throws {
        guard !agentCounts.isEmpty, agentCounts.allSatisfy({ $0 > 0 }) else { throw ValidationError("--agents takes positive numbers, e.g. 100,1000") }
        guard !rates.isEmpty, rates.allSatisfy({ $0 > 0 }) else { throw ValidationError("--rate takes positive numbers of batches per second, e.g. 1,4") }
        guard batchesPerAgent > 0, linesPerBatch > 0, window > 0 else { throw ValidationError("--batches-per-agent, --lines-per-batch and --window must be positive") }
        guard ["receive", "relay"].contains(node) else { throw ValidationError("--node is receive or relay, not '\(node)'") }
        if let target, FaninTarget(target) == nil { throw ValidationError("--target is HOST:PORT, not '\(target)'") }
    }

    private var agentCounts: [Int] { agents.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    private var rates: [Double] { rate.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) } }

    func run() async throws {
        let limit = FileDescriptorLimit.raiseToHard()
        print("file descriptors: soft limit \(limit.soft) (hard \(limit.hard)); machine: \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("each session: \(batchesPerAgent) batches of \(linesPerBatch) lines, window \(window); listener: \(target ?? "logferry \(node) --fsync \(fsync)")\n")
        print(FaninRow.header)
        var rows: [FaninRow] = []
        for count in agentCounts {
            if count + 64 > limit.soft {
                print("warning: \(count) sessions need more than the \(limit.soft) file descriptors this process may open; raise the hard limit (ulimit -Hn)")
            }
            for rate in rates {
                let row = try await FaninRun(
                    agents: count, batchesPerAgent: batchesPerAgent, linesPerBatch: linesPerBatch, rate: rate,
                    window: window, target: target.flatMap(FaninTarget.init), node: node, fsync: fsync,
                    timeout: .seconds(timeout)
                ).measure()
                print(row.line)
                rows.append(row)
            }
        }
        print("""

            offered/accepted: batches/s over all sessions (accepted: acked, durable at the listener, from the start to the last ack).
            ack p50/p99: from writing a batch to the ack that covers it. fair: slowest session's rate / the median's (>= 0.5: within 2x).
            RSS: the listener's before sessions, with all sessions connected and idle, and its peak (VmHWM); KiB/session: (peak - before) / sessions.
            CPU: the listener's user+system seconds during the sending. fds: the most it had open. written: until its files held every line (receive).
            """)
    }
}

/// `HOST:PORT` of a listener given with `--target`.
struct FaninTarget: Sendable {
    var host: String
    var port: Int

    init?(_ text: String) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), port > 0 else { return nil }
        host = String(text[..<colon])
        self.port = port
    }
}
