import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Exactly-once keyed by origin (DESIGN.md §3), proved with real processes in topologies where one origin's
/// batches can reach the receiver along more than one path:
///
/// ```
///                      ┌─ proxy A → relay A ─┐
///  file → agent --to A,B                     ├─ proxy R → receive
///                      └─ proxy B → relay B ─┘
/// ```
/// and a three-level tree (two agents → relays A, B → relay C → receiver). Every node that listens sits behind a
/// ``ChaosProxy`` so it can be killed with SIGKILL and restarted on its spool (on a new port) while the node in
/// front keeps a fixed address. The test appends numbered lines (``TestOrigin/line(_:host:)``) to each agent's file
/// over about 38 s while, at moments drawn from a seeded generator (the seed is printed; replay with
/// `LOGFERRY_CHAOS_SEED`), it kills every node with SIGKILL at least twice, agents included, restarts each on its
/// spool, and cuts proxied connections mid-frame. Then every line must be at the receiver exactly once: none
/// missing, none doubled (the failure names the numbers and prints every process's standard error). Order is not
/// checked: batches of one origin may legitimately overtake each other on two paths.
///
/// What each test adds:
/// - the relay the agent is using is frozen with SIGSTOP for 18 s, then SIGCONT: lines written after the SIGSTOP
///   must reach the receiver within ``switchBound`` (the agent left the frozen relay for the other one, with
///   `--progress-timeout 3`), and what the frozen relay forwards after SIGCONT must be recognised as stored;
/// - `--rebatch` on both relays (merged batches must keep their origin ranges);
/// - a tree with two origins and mixed selection policies;
/// - a relay that comes back with an empty spool (a new spool id, sequences from 1 again) and must carry traffic.
///
/// `LOGFERRY_TOPOLOGY_LINES` sets the number of lines per test (split between the agents of the tree). The default
/// is the full 300,000: they cross two hops in about 2 s in a debug build, so the count does not set the run time,
/// the chaos schedule does: 43-46 s per test on a 2-core machine, about 3 min 45 s for the file's five runs.
/// `LOGFERRY_KEEP_TEST_DIRS=1` keeps the spools, outputs and every process's standard error.
@Suite("Ferry topologies: exactly once by origin across failover, freezes and kills (real processes)", .serialized)
struct FerryTopologyTests {
    static let totalLines = ProcessInfo.processInfo.environment["LOGFERRY_TOPOLOGY_LINES"].flatMap { Int($0) } ?? 300_000

    @Test(
        "agent --to A,B → relays A, B → receiver: kill -9 of every node, SIGSTOP of the relay in use; every line exactly once",
        arguments: ["failover", "round-robin"]
    )
    func agentOverTwoRelays(selection: String) async throws {
        try await Self.run(Layout(
            label: "topology-\(selection)",
            relays: [
                RelaySpec(name: "relay-a", to: ["receiver"]),
                RelaySpec(name: "relay-b", to: ["receiver"]),
            ],
            agents: [AgentSpec(name: "agent", host: "edge-1", to: ["relay-a", "relay-b"], selection: selection, lines: Self.totalLines)],
            victims: ["relay-a", "relay-b", "receiver", "agent"],
            killsEach: 2,
            freezeActiveRelay: true
        ))
    }

    @Test("the same with --rebatch on both relays (round-robin agent): merged batches keep their origin; every line exactly once")
    func agentOverTwoRebatchingRelays() async throws {
        try await Self.run(Layout(
            label: "topology-rebatch",
            relays: [
                RelaySpec(name: "relay-a", to: ["receiver"], extra: ["--rebatch"]),
                RelaySpec(name: "relay-b", to: ["receiver"], extra: ["--rebatch"]),
            ],
            agents: [AgentSpec(name: "agent", host: "edge-1", to: ["relay-a", "relay-b"], selection: "round-robin", lines: Self.totalLines)],
            victims: ["relay-a", "relay-b", "receiver", "agent"],
            killsEach: 2,
            freezeActiveRelay: true
        ))
    }

    @Test("three levels: agents edge-1 (failover), edge-2 (round-robin) → relays A, B → relay C → receiver; kill -9 of all six")
    func threeLevelTree() async throws {
        try await Self.run(Layout(
            label: "topology-tree",
            relays: [
                RelaySpec(name: "relay-c", to: ["receiver"]),
                RelaySpec(name: "relay-a", to: ["relay-c"]),
                RelaySpec(name: "relay-b", to: ["relay-c"]),
            ],
            agents: [
                AgentSpec(name: "agent-1", host: "edge-1", to: ["relay-a", "relay-b"], selection: "failover", lines: Self.totalLines / 2),
                AgentSpec(name: "agent-2", host: "edge-2", to: ["relay-a", "relay-b"], selection: "round-robin",
                          lines: Self.totalLines - Self.totalLines / 2),
            ],
            victims: ["relay-a", "relay-b", "relay-c", "receiver", "agent-1", "agent-2"],
            killsEach: 2
        ))
    }

    /// What a relay has acknowledged but not yet forwarded lives only on its disk: wiping the disk loses it, by
    /// definition. So the test first lets the receiver catch up with every line written so far (the writer pauses),
    /// then kills the relay the agent uses, deletes its spool and restarts it empty, and kills the other relay for
    /// 4 s so the agent must ship through the wiped one. Whatever the wiped relay still held can only have been
    /// duplicates of lines the receiver already had.
    @Test("a relay comes back with an EMPTY spool mid-run (new spool id, sequences from 1); every line exactly once")
    func relayRestartedWithEmptySpool() async throws {
        try await Self.run(Layout(
            label: "topology-empty-spool",
            relays: [
                RelaySpec(name: "relay-a", to: ["receiver"]),
                RelaySpec(name: "relay-b", to: ["receiver"]),
            ],
            agents: [AgentSpec(name: "agent", host: "edge-1", to: ["relay-a", "relay-b"], selection: "failover", lines: Self.totalLines)],
            victims: ["relay-a", "relay-b", "receiver", "agent"],
            killsEach: 2,
            wipeActiveRelay: true
        ))
    }
}

// MARK: - The run

extension FerryTopologyTests {
    struct RelaySpec {
        var name: String
        /// Node names (`receiver` or relays started before this one); each is reached through its proxy.
        var to: [String]
        var extra: [String] = []
    }

    struct AgentSpec {
        var name: String
        var host: String
        /// Relay names, in `--to` order.
        var to: [String]
        var selection: String
        var lines: Int
    }

    struct Layout {
        var label: String
        /// In start order: a relay's upstreams come before it.
        var relays: [RelaySpec]
        var agents: [AgentSpec]
        /// Node and agent names killed with SIGKILL (each `killsEach` times) and restarted on their spools.
        var victims: [String]
        var killsEach: Int
        /// SIGSTOP the relay the first agent uses for ``freezeSeconds``, then SIGCONT.
        var freezeActiveRelay = false
        /// Restart the relay the first agent uses with an empty spool.
        var wipeActiveRelay = false
    }

    /// How long the lines are written over (in 100 ms ticks); the chaos happens meanwhile.
    static let writeSeconds = 38.0
    /// How long a relay stays frozen: longer than any liveness timeout a sender has today (the ferry sink's read
    /// idle timeout, 15 s by default), so even a sender that only notices silence leaves before SIGCONT.
    static let freezeSeconds = 18.0
    static let freezeAt = 8.0
    /// The first line written after SIGSTOP must reach the receiver within this many seconds, well before SIGCONT
    /// (``freezeSeconds``), so the agent cannot pass by waiting for the thaw. A sender abandons an upstream that
    /// takes neither acks nor bytes for `--progress-timeout 3`; but bytes the frozen relay's kernel still accepts
    /// count as progress (that is what keeps a slow link from looking dead), so the clock starts only once the
    /// socket buffers are full: at the test's write rate that took 6-9 s in loaded CI runs (12.7 and 13.1 s to the
    /// first line at the receiver), then 3 s, then the reconnect and two hops.
    static let switchBound = 16.0
    static let wipeAt = 15.0
    /// Listener idle timeout: small, but above the 5 s heartbeat interval so idle connections do not flap.
    static let idleTimeout = "8"
    static let progressTimeout = "3"

    static func run(_ layout: Layout) async throws {
        var rng = SeededGenerator.fromEnvironment(test: layout.label)
        let started = ContinuousClock.now
        try await FerryScene.run(layout.label) { scene in
            let children = scene.children
            let run = try await TopologyRun(layout: layout, scene: scene, children: children, started: started)
            do {
                try await run.chaos(rng: &rng)
                try await run.finish()
            } catch {
                print(run.agentDiagnostics())
                throw error
            }
        }
        let elapsed = ContinuousClock.now - started
        print("\(layout.label): done in \(elapsed)")
    }

    /// One test's processes, writers and chaos state.
    final class TopologyRun: @unchecked Sendable {
        enum Action {
            case kill(String)
            case restart(String)
            case cut(String, Int)
            case freeze
            case thaw
            case wipe
            /// Checks that lines written since the wipe reached the receiver while only the wiped relay was up.
            case checkWipedRelayCarried
        }

        let layout: Layout
        let scene: FerryScene
        /// The test's start; the log's times count from it until the chaos begins, then from the chaos's start.
        var started: ContinuousClock.Instant
        let out: String
        /// Every listening node (receiver, relays) with the proxy in front of it.
        var fronts: [String: (node: FerryNode, proxy: ChaosProxy)] = [:]
        var agents: [String: RestartableNode] = [:]
        var writers: [NumberedLog] = []
        var schedule: [(at: Double, action: Action)] = []
        var down: Set<String> = []
        var kills: [String: Int] = [:]
        var cuts = 0
        var writingPaused = false
        var frozen: (name: String, process: LogFerryProcess, watch: TailCounter, agentLog: (run: Int, offset: Int))?
        var wiped: (name: String, watch: TailCounter)?
        var failed = false

        init(layout: Layout, scene: FerryScene, children: ChildProcesses, started: ContinuousClock.Instant) async throws {
            self.layout = layout
            self.scene = scene
            self.started = started
            out = try scene.path("out", create: true)
            let logs = try scene.path("logs", create: true)
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", out, "--idle-timeout", FerryTopologyTests.idleTimeout,
            ])
            fronts["receiver"] = (receiver, try scene.proxy(to: receiver.port))
            for relay in layout.relays {
                let node = try await scene.node(relay.name, [
                    "relay", "--spool", try scene.path("spool-\(relay.name)"), "--to", upstreams(relay.to),
                    "--progress-timeout", FerryTopologyTests.progressTimeout, "--idle-timeout", FerryTopologyTests.idleTimeout,
                    "--backoff-base-ms", "20", "--backoff-cap-ms", "500",
                ] + relay.extra)
                fronts[relay.name] = (node, try scene.proxy(to: node.port))
            }
            for spec in layout.agents {
                let writer = NumberedLog(host: spec.host, path: logs + "/\(spec.name).log", total: spec.lines)
                try writer.create()
                writers.append(writer)
                let agent = RestartableNode(name: spec.name, arguments: [
                    "--file", writer.path, "--spool", try scene.path("spool-\(spec.name)"), "--to", upstreams(spec.to),
                    "--host-name", spec.host, "--selection", spec.selection,
                    "--progress-timeout", FerryTopologyTests.progressTimeout, "--backoff-cap-ms", "500",
                ], logDirectory: scene.directory.path, children: children)
                try agent.start()
                agents[spec.name] = agent
            }
            log("topology up: " + fronts.map { "\($0.key) :\($0.value.node.port) behind :\($0.value.proxy.port)" }.sorted().joined(separator: ", ")
                + "; agents " + layout.agents.map { "\($0.name) (\($0.host), \($0.lines) lines, --to \($0.to.joined(separator: ",")), \($0.selection))" }.joined(separator: ", "))
        }

        private func upstreams(_ names: [String]) -> String {
            names.map { "127.0.0.1:\(fronts[$0]!.proxy.port)" }.joined(separator: ",")
        }

        var elapsed: Double {
            let duration = ContinuousClock.now - started
            return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }

        func log(_ message: String) {
            print(String(format: "%7.2fs ", elapsed) + "\(layout.label): " + message)
        }

        /// Lines at the receiver per host, counted from file sizes (every line of a host has the same length).
        func receivedSummary() -> String {
            writers.map { "\($0.host) \(Output.bytes(out, host: $0.host) / $0.lineLength)/\($0.written)" }.joined(separator: ", ")
        }

        // MARK: Schedule

        /// Kills (each victim `killsEach` times, shuffled) spread evenly, with jitter, over the writing time outside
        /// the freeze and wipe windows; as many proxy cuts at random moments; the freeze or wipe at a fixed moment.
        func plan(rng: inout SeededGenerator) {
            var windows: [ClosedRange<Double>] = [1.5...(FerryTopologyTests.writeSeconds - 2)]
            func blackOut(_ range: ClosedRange<Double>) {
                windows = windows.flatMap { window -> [ClosedRange<Double>] in
                    guard window.overlaps(range) else { return [window] }
                    var parts: [ClosedRange<Double>] = []
                    if window.lowerBound < range.lowerBound { parts.append(window.lowerBound...range.lowerBound) }
                    if range.upperBound < window.upperBound { parts.append(range.upperBound...window.upperBound) }
                    return parts
                }
            }
            if layout.freezeActiveRelay {
                let at = FerryTopologyTests.freezeAt
                schedule.append((at, .freeze))
                blackOut((at - 1.5)...(at + FerryTopologyTests.freezeSeconds + 1.5))
            }
            if layout.wipeActiveRelay {
                let at = FerryTopologyTests.wipeAt
                schedule.append((at, .wipe))
                blackOut((at - 1.5)...(at + 10))
            }
            let length = windows.reduce(0) { $0 + $1.upperBound - $1.lowerBound }
            func position(_ offset: Double) -> Double {
                var rest = min(max(offset, 0), length)
                for window in windows {
                    let size = window.upperBound - window.lowerBound
                    if rest <= size { return window.lowerBound + rest }
                    rest -= size
                }
                return windows.last!.upperBound
            }
            let victims = Array(repeating: layout.victims, count: layout.killsEach).flatMap { $0 }.shuffled(using: &rng)
            let spacing = length / Double(victims.count)
            for (index, victim) in victims.enumerated() {
                let jitter = Double.random(in: -0.3...0.3, using: &rng)
                schedule.append((position((Double(index) + 0.5 + jitter) * spacing), .kill(victim)))
            }
            let proxied = fronts.keys.sorted()
            for _ in 0..<layout.victims.count {
                let which = proxied[Int.random(in: 0..<proxied.count, using: &rng)]
                schedule.append((position(Double.random(in: 0...length, using: &rng)), .cut(which, Int.random(in: 1...(256 << 10), using: &rng))))
            }
            schedule.sort { $0.at < $1.at }
            log("plan: " + schedule.map { String(format: "%.1fs ", $0.at) + describe($0.action) }.joined(separator: ", "))
        }

        private func describe(_ action: Action) -> String {
            switch action {
            case .kill(let name): "kill -9 \(name)"
            case .restart(let name): "restart \(name)"
            case .cut(let name, let budget): "cut proxy of \(name) after \(budget) B"
            case .freeze: "SIGSTOP the relay in use for \(Int(FerryTopologyTests.freezeSeconds)) s"
            case .thaw: "SIGCONT"
            case .wipe: "wipe the spool of the relay in use"
            case .checkWipedRelayCarried: "check that the wiped relay carried lines"
            }
        }

        private func enqueue(_ at: Double, _ action: Action) {
            let index = schedule.firstIndex { $0.at > at } ?? schedule.endIndex
            schedule.insert((at, action), at: index)
        }

        // MARK: Chaos

        /// Writes every line over ``writeSeconds`` while performing the schedule; returns when both are done and
        /// every victim runs again.
        func chaos(rng: inout SeededGenerator) async throws {
            // The schedule counts from here: starting the topology can take many seconds on a loaded machine, and
            // counted from the test's start, every early action (and the freeze) fired at once, late, and kills
            // planned after the freeze landed inside it.
            log("the chaos clock starts (times count from here)")
            started = ContinuousClock.now
            plan(rng: &rng)
            let ticks = Int(FerryTopologyTests.writeSeconds * 10)
            var tick = 0
            while tick < ticks || !schedule.isEmpty {
                if !writingPaused, tick < ticks {
                    tick += 1
                    for writer in writers {
                        try writer.write(upTo: writer.total * tick / ticks, rng: &rng)
                    }
                }
                frozen?.watch.poll(out)
                wiped?.watch.poll(out)
                while let next = schedule.first, next.at <= elapsed {
                    schedule.removeFirst()
                    try await perform(next.action, rng: &rng)
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            log("chaos over: kills \(kills.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")), "
                + "\(cuts) cuts breaking \(fronts.values.map(\.proxy.cutConnections).reduce(0, +)) connections; receiver has \(receivedSummary())")
            for victim in layout.victims {
                #expect(kills[victim, default: 0] >= layout.killsEach, "\(victim) was killed \(kills[victim, default: 0]) times")
            }
        }

        func perform(_ action: Action, rng: inout SeededGenerator) async throws {
            switch action {
            case .kill(let name):
                // Nothing is killed while a relay is frozen (a kill postponed into the freeze would wait too): the
                // freeze measures how fast the agent leaves the frozen relay for the other one.
                if down.contains(name) || frozen != nil {
                    enqueue(elapsed + 1, .kill(name))
                    return
                }
                let downtime = Int.random(in: 0...1000, using: &rng)
                try await killVictim(name)
                log("kill -9 \(name) (kill \(kills[name, default: 0])), down for \(downtime) ms; receiver has \(receivedSummary())")
                enqueue(elapsed + Double(downtime) / 1000, .restart(name))
            case .restart(let name):
                try await restart(name)
            case .cut(let name, let budget):
                fronts[name]?.proxy.cutAll(afterBytes: budget)
                cuts += 1
                log("cut the connections into \(name) after \(budget) more bytes")
            case .freeze:
                try await freeze()
            case .thaw:
                try await thaw()
            case .wipe:
                try await wipe()
            case .checkWipedRelayCarried:
                checkWipedRelayCarried()
            }
        }

        private func killVictim(_ name: String) async throws {
            if let agent = agents[name] {
                await agent.kill9()
            } else if let front = fronts[name] {
                front.proxy.setBackendPort(nil)
                await front.node.kill9()
            }
            down.insert(name)
            kills[name, default: 0] += 1
        }

        private func restart(_ name: String) async throws {
            if let agent = agents[name] {
                try agent.start()
            } else if let front = fronts[name] {
                try await front.node.start()
                front.proxy.setBackendPort(front.node.port)
            }
            down.remove(name)
        }

        /// Performs every pending restart now, so the freeze or wipe starts with every node up.
        private func restartEverything() async throws {
            let pending = schedule.compactMap { entry -> String? in
                if case .restart(let name) = entry.action { return name }
                return nil
            }
            schedule.removeAll { if case .restart = $0.action { true } else { false } }
            for name in pending { try await restart(name) }
        }

        /// The relay the first agent ships to: the last `connected to 127.0.0.1:PORT` of its log, else the relay
        /// whose spool grows fastest over a second, else the first.
        func relayInUse() async -> (name: String, how: String) {
            let spec = layout.agents[0]
            let byPort = Dictionary(uniqueKeysWithValues: spec.to.map { (fronts[$0]!.proxy.port, $0) })
            if let agent = agents[spec.name] {
                for line in agent.standardErrorOfLastRuns().split(separator: "\n").reversed() {
                    guard let range = line.range(of: "connected to 127.0.0.1:") else { continue }
                    let digits = line[range.upperBound...].prefix { $0.isNumber }
                    if let port = Int(digits), let name = byPort[port] { return (name, "the agent's log") }
                }
            }
            let before = spec.to.map { directoryBytes((try? scene.path("spool-\($0)")) ?? "") }
            try? await Task.sleep(for: .seconds(1))
            let growth = zip(spec.to, before).map { ($0, directoryBytes((try? scene.path("spool-\($0)")) ?? "") - $1) }
            if let best = growth.max(by: { $0.1 < $1.1 }), best.1 > 0 { return (best.0, "spool growth") }
            return (spec.to[0], "a guess (nothing observed)")
        }

        private func freeze() async throws {
            try await restartEverything()
            let (name, how) = await relayInUse()
            guard let process = fronts[name]?.node.process else {
                Issue.record("cannot freeze \(name): not running")
                return
            }
            let writer = writers[0]
            let agent = agents[layout.agents[0].name]!
            frozen = (name, process, TailCounter(out: out, writer: writer), agent.logPosition())
            process.signal(SIGSTOP)
            log("SIGSTOP \(name) (in use according to \(how)); lines from \(writer.written) on are written while it is frozen; receiver has \(receivedSummary())")
            enqueue(elapsed + FerryTopologyTests.freezeSeconds, .thaw)
        }

        private func thaw() async throws {
            guard let frozen else { return }
            let writer = writers[0]
            let watch = frozen.watch
            watch.poll(out)
            let first = watch.firstArrival.map { String(format: "the first %.1f s after SIGSTOP", $0) } ?? "never"
            log("""
                after \(String(format: "%.1f", watch.elapsed)) s frozen, the receiver got \(watch.count) of the \(writer.written - watch.marker) \
                lines written meanwhile (\(first)); SIGCONT \(frozen.name). The agent's ferry sink meanwhile:
                """ + agents[layout.agents[0].name]!.log(since: frozen.agentLog, containing: "ferry-sink", lastLines: 12))
            if watch.count == 0 {
                Issue.record("""
                    while \(frozen.name) was frozen for \(Int(FerryTopologyTests.freezeSeconds)) s, none of the \(writer.written - watch.marker) lines \
                    written meanwhile reached the receiver: the agent did not move to the other relay
                    """)
                failed = true
            } else if let arrival = watch.firstArrival, arrival > FerryTopologyTests.switchBound {
                Issue.record("""
                    the agent took \(String(format: "%.1f", arrival)) s to move away from the frozen \(frozen.name) (first line written after \
                    SIGSTOP at the receiver); with --progress-timeout \(FerryTopologyTests.progressTimeout) it should take at most \
                    \(Int(FerryTopologyTests.switchBound)) s
                    """)
                failed = true
            }
            frozen.process.signal(SIGCONT)
            self.frozen = nil
        }

        private func wipe() async throws {
            try await restartEverything()
            writingPaused = true
            defer { writingPaused = false }
            let written = writers.map(\.written)
            log("wipe: the writer pauses at \(writers.map { "\($0.host) \($0.written)" }.joined(separator: ", ")); waiting for the receiver to hold all of it")
            var caughtUp = false
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                if zip(writers, written).allSatisfy({ Output.bytes(out, host: $0.host) >= $1 * $0.lineLength }) {
                    let tallies = Output.tally(out, writers: writers)
                    if zip(writers, written).allSatisfy({ tallies[$0.host]!.firstMissing(below: $1) == nil }) {
                        caughtUp = true
                        break
                    }
                }
                try await Task.sleep(for: .milliseconds(300))
            }
            if !caughtUp {
                let tallies = Output.tally(out, writers: writers)
                let missing = zip(writers, written).map { "\($0.host): \(tallies[$0.host]!.missing(below: $1))" }
                Issue.record("the receiver did not catch up with the lines written before the wipe within 60 s; missing \(missing)")
                failed = true
            }
            let (name, how) = await relayInUse()
            let front = fronts[name]!
            front.proxy.setBackendPort(nil)
            await front.node.kill9()
            kills[name, default: 0] += 1
            let spool = try scene.path("spool-\(name)")
            let before = directoryBytes(spool)
            try FileManager.default.removeItem(atPath: spool)
            #expect(!FileManager.default.fileExists(atPath: spool))
            try await Task.sleep(for: .milliseconds(500))
            try await front.node.start()
            front.proxy.setBackendPort(front.node.port)
            log("kill -9 \(name) (in use according to \(how)), deleted its spool (\(before) bytes), restarted it empty")
            // Make the agent ship through the wiped relay: take the other one away for a while.
            if let other = layout.agents[0].to.first(where: { $0 != name }) {
                wiped = (name, TailCounter(out: out, writer: writers[0]))
                try await killVictim(other)
                log("kill -9 \(other) for 5 s, so the agent must use the wiped \(name)")
                enqueue(elapsed + 4.9, .checkWipedRelayCarried)
                enqueue(elapsed + 5, .restart(other))
            }
        }

        private func checkWipedRelayCarried() {
            guard let wiped else { return }
            let writer = writers[0]
            let watch = wiped.watch
            watch.poll(out)
            log("""
                in the \(String(format: "%.1f", watch.elapsed)) s when only the wiped \(wiped.name) was up, the receiver got \(watch.count) of \
                the \(writer.written - watch.marker) lines written meanwhile; spool of \(wiped.name) now \
                \(directoryBytes((try? scene.path("spool-\(wiped.name)")) ?? "")) bytes
                """)
            if watch.count == 0 {
                Issue.record("""
                    none of the \(writer.written - watch.marker) lines written after \(wiped.name) came back with an empty spool reached \
                    the receiver while it was the only relay up
                    """)
                failed = true
            }
            self.wiped = nil
        }

        // MARK: The end

        /// Waits for every line, lets the topology settle, stops everything gracefully and checks the output.
        func finish() async throws {
            let written = writers.map(\.written)
            #expect(zip(writers, written).allSatisfy { $0.total == $1 })
            log("waiting for delivery; receiver has \(receivedSummary())")
            let deliveryStarted = ContinuousClock.now
            let complete = try await waitUntil(timeout: .seconds(120), interval: .milliseconds(500)) {
                guard writers.allSatisfy({ Output.bytes(out, host: $0.host) >= $0.total * $0.lineLength }) else { return false }
                let tallies = Output.tally(out, writers: writers)
                if writers.allSatisfy({ tallies[$0.host]!.firstMissing(below: $0.total) == nil }) { return true }
                try await Task.sleep(for: .seconds(1))
                return false
            }
            log("every line \(complete ? "present" : "NOT present after 120 s") after \(ContinuousClock.now - deliveryStarted); receiver has \(receivedSummary())")
            // Let late copies arrive (a relay replaying after SIGCONT, a resend after a kill): the output must stay
            // unchanged for 3 s in a row.
            var last = -1
            var stableSince = ContinuousClock.now
            let settleDeadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < settleDeadline {
                let bytes = writers.map { Output.bytes(out, host: $0.host) }.reduce(0, +)
                if bytes != last {
                    last = bytes
                    stableSince = .now
                } else if ContinuousClock.now - stableSince >= .seconds(3) {
                    break
                }
                try await Task.sleep(for: .milliseconds(250))
            }

            // Graceful stop, senders first; every process must finish its work and exit 0.
            for spec in layout.agents {
                let exit = await agents[spec.name]!.terminate()
                #expect(exit == .exited(0), "\(spec.name) exited \(String(describing: exit)) on SIGTERM")
                if exit != .exited(0) { failed = true }
            }
            for name in layout.relays.map(\.name).reversed() + ["receiver"] {
                guard let process = fronts[name]?.node.process else { continue }
                let exit = await stopGracefully(process)
                #expect(exit == .exited(0), "\(name) exited \(String(describing: exit)) on SIGTERM")
                if exit != .exited(0) { failed = true }
            }

            let tallies = Output.tally(out, writers: writers)
            for writer in writers {
                let tally = tallies[writer.host]!
                log("\(writer.host): \(tally)")
                // Issue.record rather than #expect: #expect would print every number of a large array.
                if tally.garbled > 0 {
                    Issue.record("\(writer.host): \(tally.garbled) garbled lines, e.g. \(tally.garbledSamples)")
                }
                let missing = tally.missing(below: writer.total)
                if !missing.isEmpty {
                    Issue.record("\(writer.host): \(missing.count) of \(writer.total) lines missing: \(numberRanges(missing).prefix(12))")
                }
                let doubled = tally.doubled
                if !doubled.isEmpty {
                    Issue.record("""
                        \(writer.host): \(doubled.count) of \(writer.total) lines delivered more than once (\(tally.extraCopies) extra copies): \
                        \(numberRanges(doubled).prefix(12))
                        """)
                }
                if !tally.isExact { failed = true }
            }
            let strays = tallies[""]
            if let strays {
                Issue.record("output for hosts no agent has: \(strays.lines) lines in \(strays.garbledSamples)")
            }
            if failed || strays != nil {
                print("\(layout.label): diagnostics\n" + scene.diagnostics() + agentDiagnostics())
            }
        }

        func agentDiagnostics() -> String {
            layout.agents.compactMap { agents[$0.name]?.allStandardError() }.joined()
        }
    }
}

// MARK: - The files the agents tail

extension FerryTopologyTests {
    /// The file one agent tails: lines `TestOrigin.line(n, host:)` for n = 0, 1, 2, ..., appended in order, each
    /// chunk in up to three `write` calls cut at random bytes (so the agent sometimes sees half a line).
    final class NumberedLog: @unchecked Sendable {
        let host: String
        let path: String
        let total: Int
        private(set) var written = 0
        /// Bytes per line, newline included: the same for every line of a host.
        let lineLength: Int

        init(host: String, path: String, total: Int) {
            self.host = host
            self.path = path
            self.total = total
            lineLength = TestOrigin.line(0, host: host).utf8.count + 1
        }

        func create() throws {
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw HarnessError("cannot create \(path)") }
        }

        func write(upTo target: Int, rng: inout SeededGenerator) throws {
            let end = min(target, total)
            guard end > written else { return }
            var chunk: [UInt8] = []
            chunk.reserveCapacity((end - written) * lineLength)
            for number in written..<end {
                chunk += TestOrigin.line(number, host: host).utf8
                chunk.append(0x0A)
            }
            var cuts = (0..<Int.random(in: 0...2, using: &rng)).map { _ in Int.random(in: 1..<chunk.count, using: &rng) }
            cuts.sort()
            var start = 0
            for cut in cuts + [chunk.count] where cut > start {
                try appendToFile(path, Array(chunk[start..<cut]))
                start = cut
            }
            written = end
        }
    }
}

// MARK: - Reading the receiver's output

extension FerryTopologyTests {
    /// Per host: how often each line number arrived.
    struct Tally: CustomStringConvertible {
        var counts: [UInt8]
        var lines = 0
        var garbled = 0
        var garbledSamples: [String] = []
        /// Lines whose number is below the one before in the same file: allowed (two paths), reported.
        var outOfOrder = 0

        func missing(below limit: Int) -> [Int] {
            (0..<min(limit, counts.count)).filter { counts[$0] == 0 }
        }

        func firstMissing(below limit: Int) -> Int? {
            (0..<min(limit, counts.count)).first { counts[$0] == 0 }
        }

        var doubled: [Int] { counts.indices.filter { counts[$0] > 1 } }
        var extraCopies: Int { counts.reduce(0) { $0 + max(0, Int($1) - 1) } }
        var isExact: Bool { garbled == 0 && !counts.contains(0) && !counts.contains { $0 > 1 } }

        var description: String {
            let absent = missing(below: counts.count)
            let twice = doubled
            return "\(lines) lines for \(counts.count) expected: \(absent.count) missing \(numberRanges(absent).prefix(8)), "
                + "\(twice.count) doubled (\(extraCopies) extra copies) \(numberRanges(twice).prefix(8)), "
                + "\(garbled) garbled, \(outOfOrder) out of order (allowed)"
        }
    }

    /// Counts, as they arrive, the lines of one host numbered `marker` or higher (written after the counter was
    /// made), reading only what the receiver appended since the last poll.
    final class TailCounter: @unchecked Sendable {
        let host: String
        let marker: Int
        private let suffix: [UInt8]
        private var offsets: [String: Int]
        private let started = ContinuousClock.now
        private(set) var count = 0
        /// Seconds from the counter's start to the poll that first saw such a line.
        private(set) var firstArrival: Double?

        init(out: String, writer: NumberedLog) {
            host = writer.host
            marker = writer.written
            suffix = Output.suffix(host: writer.host)
            // Every line of a host has the same length, so a line starts at each multiple of it.
            offsets = Output.fileSizes(out, host: writer.host).mapValues { $0 - $0 % writer.lineLength }
        }

        var elapsed: Double {
            let duration = ContinuousClock.now - started
            return Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        }

        func poll(_ out: String) {
            for path in Output.files(out, host: host) {
                let from = offsets[path] ?? 0
                guard let handle = FileHandle(forReadingAtPath: path) else { continue }
                defer { try? handle.close() }
                try? handle.seek(toOffset: UInt64(from))
                guard let data = try? handle.readToEnd(), let end = data.lastIndex(of: 0x0A) else { continue }
                var found = 0
                Output.forEachLine(Array(data[...end])) { line in
                    if let number = Output.number(line, suffix: suffix), number >= marker { found += 1 }
                }
                offsets[path] = from + (end - data.startIndex) + 1
                count += found
                if found > 0, firstArrival == nil { firstArrival = elapsed }
            }
        }
    }

    enum Output {
        /// The output files of `host` (`OUT/<host>/...`), full paths.
        static func files(_ out: String, host: String) -> [String] {
            let directory = out + "/" + host
            return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted().map { directory + "/" + $0 }
        }

        static func fileSizes(_ out: String, host: String) -> [String: Int] {
            var sizes: [String: Int] = [:]
            for path in files(out, host: host) {
                sizes[path] = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            }
            return sizes
        }

        static func bytes(_ out: String, host: String) -> Int {
            fileSizes(out, host: host).values.reduce(0, +)
        }

        /// Line `seq=NNNNNNNNN origin=HOST ...` → NNNNNNNNN when the line is exactly ``TestOrigin/line(_:host:)``.
        static func number(_ line: UnsafeBufferPointer<UInt8>, suffix: [UInt8]) -> Int? {
            guard line.count == 13 + suffix.count, line[0] == UInt8(ascii: "s"), line[1] == UInt8(ascii: "e"),
                line[2] == UInt8(ascii: "q"), line[3] == UInt8(ascii: "=")
            else { return nil }
            var value = 0
            for index in 4..<13 {
                let byte = line[index]
                guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
                value = value * 10 + Int(byte - UInt8(ascii: "0"))
            }
            for index in suffix.indices where line[13 + index] != suffix[index] { return nil }
            return value
        }

        /// What follows the 13 bytes `seq=NNNNNNNNN` in every line of `host`.
        static func suffix(host: String) -> [UInt8] {
            Array(TestOrigin.line(0, host: host).utf8.dropFirst(13))
        }

        /// Calls `body` with every complete line of `bytes` (without its newline).
        static func forEachLine(_ bytes: [UInt8], _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
            bytes.withUnsafeBufferPointer { buffer in
                var start = 0
                var index = 0
                while index < buffer.count {
                    if buffer[index] == 0x0A {
                        body(UnsafeBufferPointer(rebasing: buffer[start..<index]))
                        start = index + 1
                    }
                    index += 1
                }
            }
        }

        /// Every output file, tallied per host; lines of hosts no writer has go to the host "". Hidden entries
        /// (the file sink's state) are skipped.
        static func tally(_ out: String, writers: [NumberedLog]) -> [String: Tally] {
            var tallies: [String: Tally] = [:]
            let known = Dictionary(uniqueKeysWithValues: writers.map { ($0.host, $0) })
            for (name, bytes) in ReceivedOutput.files(in: out).sorted(by: { $0.key < $1.key }) {
                let host = String(name.prefix { $0 != "/" })
                // The file sink's own state (`OUT/.logferry/...`) is not output.
                if host.hasPrefix(".") { continue }
                guard let writer = known[host] else {
                    var stray = tallies[""] ?? Tally(counts: [])
                    stray.lines += bytes.count { $0 == 0x0A }
                    stray.garbled = stray.lines
                    stray.garbledSamples.append(name)
                    tallies[""] = stray
                    continue
                }
                var tally = tallies[host] ?? Tally(counts: [UInt8](repeating: 0, count: writer.total))
                let suffix = Self.suffix(host: host)
                var previous = -1
                forEachLine(bytes) { line in
                    tally.lines += 1
                    guard let number = Self.number(line, suffix: suffix), number < writer.total else {
                        tally.garbled += 1
                        if tally.garbledSamples.count < 5 {
                            tally.garbledSamples.append("\(name): " + String(decoding: line.prefix(100), as: UTF8.self))
                        }
                        return
                    }
                    if tally.counts[number] < UInt8.max { tally.counts[number] += 1 }
                    if number < previous { tally.outOfOrder += 1 }
                    previous = number
                }
                tallies[host] = tally
            }
            for writer in writers where tallies[writer.host] == nil {
                tallies[writer.host] = Tally(counts: [UInt8](repeating: 0, count: writer.total))
            }
            return tallies
        }
    }
}
