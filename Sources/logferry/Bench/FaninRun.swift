import Foundation
import Synchronization

/// One row of `logferry bench fanin`: start the listener (unless given), seal every session's batches, connect
/// all sessions, start them together, collect what they measured and what the listener's process used.
struct FaninRun {
    var agents: Int
    var batchesPerAgent: Int
    var linesPerBatch: Int
    var rate: Double
    var window: Int
    var target: FaninTarget?
    var node: String
    var fsync: String
    var timeout: Duration

    func measure() async throws -> FaninRow {
        let root = try BenchFiles.temporaryDirectory("fanin-\(agents)-\(Int(rate * 1000))")
        var succeeded = false
        // Kept on failure, for the listener's log.
        defer { if succeeded { try? FileManager.default.removeItem(atPath: root) } }
        var listener: BenchProcess?
        defer { listener?.stop() }
        let host: String
        let port: Int
        if let target {
            (host, port) = (target.host, target.port)
        } else {
            var arguments = [node, "--listen", "127.0.0.1:0", "--spool", root + "/spool", "--fsync", fsync,
                             "--max-sessions", String(max(4096, agents + 64)), "--log-level", "error"]
            if node == "receive" {
                arguments += ["--out", root + "/out"]
            } else {
                // Nothing listens on port 1: the relay's sink backs off and the spool keeps everything.
                arguments += ["--to", "127.0.0.1:1", "--backoff-cap-ms", "5000"]
            }
            let process = try BenchProcess(arguments, logPath: root + "/listener.log")
            listener = process
            port = try await process.listeningPort()
            host = "127.0.0.1"
        }
        let pid = listener?.process.processIdentifier
        try await Task.sleep(for: .milliseconds(300))
        let before = pid.flatMap(ProcessFigures.init(pid:))

        let sessions = try await Self.makeSessions(agents, batches: batchesPerAgent, lines: linesPerBatch, rate: rate)
        let gate = FaninStartGate()
        let ready = FaninCounter()
        let peakFDs = FaninCounter()
        let launched = ContinuousClock.now
        let sampler = Task {
            while !Task.isCancelled, let pid {
                if let figures = ProcessFigures(pid: pid) { peakFDs.raise(to: figures.openFiles) }
                try? await Task.sleep(for: .milliseconds(250))
            }
        }
        defer { sampler.cancel() }
        let window = self.window
        let (results, connected, cpu, start, end) = try await withThrowingTaskGroup(
            of: FaninSessionResult?.self
        ) { group -> ([FaninSessionResult], (Duration, ProcessFigures?), Double, ContinuousClock.Instant, ContinuousClock.Instant) in
            for session in sessions {
                group.addTask {
                    await session.run(host: host, port: port, window: window, gate: gate) {
                        ready.add()
                    }
                }
            }
            let deadline = ContinuousClock.now + timeout
            while ready.value < agents, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(50))
            }
            let connectTime = ContinuousClock.now - launched
            // Let the listener settle (log lines, first heartbeats) before reading its idle memory.
            try await Task.sleep(for: .milliseconds(500))
            let idle = pid.flatMap(ProcessFigures.init(pid:))
            let cpuBefore = listener?.cpuSeconds ?? 0
            let start = ContinuousClock.now + .milliseconds(100)
            gate.open(at: start)
            group.addTask {
                try? await Task.sleep(until: deadline + timeout, clock: .continuous)
                return nil
            }
            var results: [FaninSessionResult] = []
            while results.count < agents, let result = try await group.next() {
                guard let result else { break }
                results.append(result)
            }
            let end = ContinuousClock.now
            group.cancelAll()
            // Sessions cut off by the deadline report what they had.
            while let result = try await group.next() {
                if let result { results.append(result) }
            }
            return (results, (connectTime, idle), (listener?.cpuSeconds ?? 0) - cpuBefore, start, end)
        }
        let peak = pid.flatMap(ProcessFigures.init(pid:))
        var written: Duration?
        if listener != nil, node == "receive" {
            let expected = sessions.reduce(0) { $0 + $1.outputBytes }
            if try await BenchFiles.waitForBytes(root + "/out", expected, timeout: .seconds(300)) {
                written = ContinuousClock.now - start
            }
        }
        succeeded = true
        return FaninRow(
            agents: agents, rate: rate, linesPerBatch: linesPerBatch, batchesPerAgent: batchesPerAgent,
            results: results, start: start, end: end, connectTime: connected.0,
            before: before, connected: connected.1, peak: peak, peakFDs: peakFDs.value,
            cpuSeconds: listener == nil ? nil : cpu, written: written
        )
    }

    /// Seals every session's batches, on all cores.
    private static func makeSessions(_ count: Int, batches: Int, lines: Int, rate: Double) async throws -> [FaninSession] {
        try await withThrowingTaskGroup(of: FaninSession.self) { group in
            for index in 0..<count {
                group.addTask { try FaninSession(index: index, batchCount: batches, linesPerBatch: lines, rate: rate) }
            }
            var sessions: [FaninSession] = []
            for try await session in group { sessions.append(session) }
            return sessions.sorted { $0.index < $1.index }
        }
    }
}

/// A counter shared by the tasks of one run.
final class FaninCounter: Sendable {
    private let atomic = Atomic<Int>(0)

    /// Adds one.
    func add() {
        atomic.add(1, ordering: .relaxed)
    }

    /// Raises the value to `candidate` when it is larger.
    func raise(to candidate: Int) {
        var current = atomic.load(ordering: .relaxed)
        while candidate > current {
            let (exchanged, original) = atomic.compareExchange(expected: current, desired: candidate, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// The value now.
    var value: Int { atomic.load(ordering: .relaxed) }
}
