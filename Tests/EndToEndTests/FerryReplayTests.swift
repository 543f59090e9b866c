import Foundation
import LogFerryTestSupport
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Retention and replay, proved with real processes: a sender keeps acknowledged spool records (`--retain-bytes`,
/// `--retain-age`) and, started with `--replay-since`, sends the retained records sealed since then again; the
/// receiver deduplicates by origin (PROTOCOL.md §2a), so it writes exactly what it is missing.
///
/// Every test appends numbered lines to a file the agent tails (`--file`). A line is
/// `seq=NNNNNNNNN host=HOST pad=<120 hex digits drawn from NNNNNNNNN>`: every line of a host has the same length
/// (so progress is measured from file sizes) and the hex padding keeps the batches from compressing to nothing (so
/// spool sizes are realistic). At the end every line written must be in the output exactly once: none missing,
/// none doubled, each byte-for-byte what was written.
///
/// - A central store (the receiver) restored from a backup loses what it took after the backup; the agent, which
///   retained it, replays it. A control check first shows that without the replay those lines stay missing.
/// - The same with a relay in between, restored from a backup taken at the same moment; agent and relay replay.
/// - A small capped spool with retention under capacity pressure: retained records are dropped first, nothing
///   else is, nothing blocks for good.
/// - A replay into a fresh receiver; the same `--replay-since` again is not carried out twice, `--replay-again`
///   is (and the receiver writes nothing twice).
///
/// `LOGFERRY_KEEP_TEST_DIRS=1` keeps spools, outputs, backups and every process's standard error.
@Suite("Retention and replay: a restored or fresh store gets back exactly what it is missing (real processes)", .serialized)
struct FerryReplayTests {
    /// Flags every agent of this suite gets: small segments (retention works per segment), small batches (many
    /// records per segment), a short linger and a short reconnect backoff.
    static let agentFlags = [
        "--segment-bytes", "65536", "--batch-bytes", "32768", "--linger-ms", "50",
        "--backoff-base-ms", "20", "--backoff-cap-ms", "300",
    ]

    @Test("the receiver is restored from a backup; the agent restarted with --replay-since restores what it lost; every line exactly once")
    func restoredReceiverIsReplayedTo() async throws {
        let (n1, n2, n3) = (8_000, 16_000, 20_000)
        let since = Self.rfc3339(Date().addingTimeInterval(-60))
        try await FerryScene.run("replay-restore") { scene in
            let children = scene.children
            let out = try scene.path("out")
            let receiverSpool = try scene.path("spool-receiver")
            let backup = try scene.path("backup", create: true)
            let receiver = try await scene.node("receiver", ["receive", "--spool", receiverSpool, "--out", out])
            let proxy = try scene.proxy(to: receiver.port)
            let log = try NumberedLines(host: "replay-1", path: scene.path("app.log"))
            let agent = RestartableNode(name: "agent", arguments: [
                "--file", log.path, "--spool", try scene.path("spool-agent"), "--to", "127.0.0.1:\(proxy.port)",
                "--host-name", log.host, "--retain-bytes", "100000000",
            ] + Self.agentFlags, logDirectory: scene.directory.path, children: children)
            try agent.start()
            do {
                try log.write(0..<n1)
                try await Self.waitForLines(below: n1, out: out, log: log, what: "lines 0..<\(n1) at the receiver")

                // The backup: the receiver stopped gracefully, its spool and output copied.
                proxy.setBackendPort(nil)
                #expect(await receiver.terminate() == .exited(0), "receiver exited badly on SIGTERM")
                try await Self.copyTree(receiverSpool, to: backup + "/spool-receiver", children: children)
                try await Self.copyTree(out, to: backup + "/out", children: children)
                try await receiver.start()
                proxy.setBackendPort(receiver.port)

                try log.write(n1..<n2)
                try await Self.waitForLines(below: n2, out: out, log: log, what: "lines 0..<\(n2) at the receiver")
                let before = Self.count(out: out, log: log, upTo: n2, verify: true)
                print("replay-restore: before the restore the receiver has \(before.summary(below: n2))")

                // The restore: the receiver's spool and output replaced by the backup.
                proxy.setBackendPort(nil)
                #expect(await receiver.terminate() == .exited(0), "receiver exited badly on SIGTERM")
                try FileManager.default.removeItem(atPath: receiverSpool)
                try FileManager.default.removeItem(atPath: out)
                try await Self.copyTree(backup + "/spool-receiver", to: receiverSpool, children: children)
                try await Self.copyTree(backup + "/out", to: out, children: children)
                let connectionsBefore = agent.occurrences(of: "connected to 127.0.0.1:\(proxy.port)")
                try await receiver.start()
                proxy.setBackendPort(receiver.port)

                // Control: the agent, running without a replay, reconnects to the restored receiver and sends
                // nothing of n1..<n2 (it resumes after its own cursor): those lines are missing.
                try await waitUntil("the agent to reconnect to the restored receiver", deadline: .seconds(30)) {
                    agent.occurrences(of: "connected to 127.0.0.1:\(proxy.port)") > connectionsBefore
                }
                try await Task.sleep(for: .seconds(2))
                let control = Self.count(out: out, log: log, upTo: n2, verify: true)
                print("replay-restore: control (restored receiver, agent reconnected without replay): \(control.summary(below: n2))")
                #expect(control.missing(in: 0..<n1).isEmpty, "the restored output lacks lines of the backup: \(numberRanges(control.missing(in: 0..<n1)).prefix(8))")
                let presentAfterBackup = control.present(in: n1..<n2)
                #expect(presentAfterBackup.isEmpty, """
                    control: without a replay, lines \(n1)..<\(n2) (shipped after the backup) should be missing from the restored \
                    output, but \(presentAfterBackup.count) are there: \(numberRanges(presentAfterBackup).prefix(8))
                    """)

                // The replay.
                #expect(await agent.terminate() == .exited(0), "agent exited badly on SIGTERM")
                try agent.start(["--replay-since", since])
                try log.write(n2..<n3)
                let complete = try await Self.waitForLines(below: n3, out: out, log: log, what: "lines 0..<\(n3) after the replay", required: false)
                let done = await agent.waitForLog("replay since \(since) done", deadline: .seconds(30))
                #expect(done, "the agent never logged 'replay since \(since) done'; its replay lines:\(agent.lines(containing: "replay since"))")
                await Self.settle(out: out)
                let final = Self.count(out: out, log: log, upTo: n3, verify: true)
                print("replay-restore: after the replay: \(final.summary(below: n3)); agent:\(agent.lines(containing: "replay since"))")
                let exact = Self.expectExactlyOnce(final, below: n3, label: "restored receiver after the replay")
                if !complete || !exact || !done {
                    print("replay-restore: diagnostics\n" + scene.diagnostics() + agent.allStandardError())
                }
                #expect(await agent.terminate() == .exited(0), "agent exited badly on SIGTERM")
                #expect(await receiver.terminate() == .exited(0), "receiver exited badly on SIGTERM")
            } catch {
                print(agent.allStandardError())
                throw error
            }
        }
    }

    @Test("agent → relay → receiver; relay and receiver restored from backups taken together; agent and relay replay; every line exactly once")
    func restoredRelayAndReceiverAreReplayedTo() async throws {
        let (n1, n2, n3) = (8_000, 16_000, 20_000)
        let since = Self.rfc3339(Date().addingTimeInterval(-60))
        try await FerryScene.run("replay-relay") { scene in
            let children = scene.children
            let out = try scene.path("out")
            let receiverSpool = try scene.path("spool-receiver")
            let relaySpool = try scene.path("spool-relay")
            let backup = try scene.path("backup", create: true)
            let receiver = try await scene.node("receiver", ["receive", "--spool", receiverSpool, "--out", out])
            let receiverProxy = try scene.proxy(to: receiver.port)
            let relayArguments = [
                "relay", "--spool", relaySpool, "--to", "127.0.0.1:\(receiverProxy.port)",
                "--segment-bytes", "65536", "--retain-bytes", "100000000", "--backoff-base-ms", "20", "--backoff-cap-ms", "300",
            ]
            let relay = try await scene.node("relay", relayArguments)
            let relayProxy = try scene.proxy(to: relay.port)
            let log = try NumberedLines(host: "replay-2", path: scene.path("app.log"))
            let agent = RestartableNode(name: "agent", arguments: [
                "--file", log.path, "--spool", try scene.path("spool-agent"), "--to", "127.0.0.1:\(relayProxy.port)",
                "--host-name", log.host, "--retain-bytes", "100000000",
            ] + Self.agentFlags, logDirectory: scene.directory.path, children: children)
            try agent.start()

            func stopRelayAndReceiver(_ relay: FerryNode) async {
                relayProxy.setBackendPort(nil)
                #expect(await relay.terminate() == .exited(0), "\(relay.name) exited badly on SIGTERM")
                receiverProxy.setBackendPort(nil)
                #expect(await receiver.terminate() == .exited(0), "receiver exited badly on SIGTERM")
            }
            func startRelayAndReceiver(_ relay: FerryNode) async throws {
                try await receiver.start()
                receiverProxy.setBackendPort(receiver.port)
                try await relay.start()
                relayProxy.setBackendPort(relay.port)
            }

            do {
                try log.write(0..<n1)
                try await Self.waitForLines(below: n1, out: out, log: log, what: "lines 0..<\(n1) at the receiver")

                // The backups, taken together: relay and receiver stopped gracefully, spools and output copied.
                await stopRelayAndReceiver(relay)
                try await Self.copyTree(relaySpool, to: backup + "/spool-relay", children: children)
                try await Self.copyTree(receiverSpool, to: backup + "/spool-receiver", children: children)
                try await Self.copyTree(out, to: backup + "/out", children: children)
                try await startRelayAndReceiver(relay)

                try log.write(n1..<n2)
                try await Self.waitForLines(below: n2, out: out, log: log, what: "lines 0..<\(n2) at the receiver")

                // The restore of both.
                await stopRelayAndReceiver(relay)
                for path in [relaySpool, receiverSpool, out] { try FileManager.default.removeItem(atPath: path) }
                try await Self.copyTree(backup + "/spool-relay", to: relaySpool, children: children)
                try await Self.copyTree(backup + "/spool-receiver", to: receiverSpool, children: children)
                try await Self.copyTree(backup + "/out", to: out, children: children)
                let connectionsBefore = agent.occurrences(of: "connected to 127.0.0.1:\(relayProxy.port)")
                try await startRelayAndReceiver(relay)

                // Control: nobody replays; the agent and the restored relay reconnect, lines n1..<n2 stay missing.
                try await waitUntil("the agent to reconnect to the restored relay", deadline: .seconds(30)) {
                    agent.occurrences(of: "connected to 127.0.0.1:\(relayProxy.port)") > connectionsBefore
                }
                try await waitUntil("the restored relay to connect to the restored receiver", deadline: .seconds(30)) {
                    relay.standardError.contains("connected to 127.0.0.1:\(receiverProxy.port)")
                }
                try await Task.sleep(for: .seconds(2))
                let control = Self.count(out: out, log: log, upTo: n2, verify: true)
                print("replay-relay: control (restored relay and receiver, no replay): \(control.summary(below: n2))")
                #expect(control.missing(in: 0..<n1).isEmpty, "the restored output lacks lines of the backup: \(numberRanges(control.missing(in: 0..<n1)).prefix(8))")
                let presentAfterBackup = control.present(in: n1..<n2)
                #expect(presentAfterBackup.isEmpty, """
                    control: without a replay, lines \(n1)..<\(n2) (shipped after the backups) should be missing from the restored \
                    output, but \(presentAfterBackup.count) are there: \(numberRanges(presentAfterBackup).prefix(8))
                    """)

                // The replays: the relay restarted with --replay-since, then the agent.
                relayProxy.setBackendPort(nil)
                #expect(await relay.terminate() == .exited(0), "relay exited badly on SIGTERM")
                let replayingRelay = try await scene.node("relay-replay", relayArguments + ["--replay-since", since])
                relayProxy.setBackendPort(replayingRelay.port)
                #expect(await agent.terminate() == .exited(0), "agent exited badly on SIGTERM")
                try agent.start(["--replay-since", since])
                try log.write(n2..<n3)
                let complete = try await Self.waitForLines(below: n3, out: out, log: log, what: "lines 0..<\(n3) after the replays", required: false)
                let agentDone = await agent.waitForLog("replay since \(since) done", deadline: .seconds(30))
                #expect(agentDone, "the agent never logged 'replay since \(since) done'; its replay lines:\(agent.lines(containing: "replay since"))")
                let relayDone = await Self.poll(timeout: .seconds(30)) {
                    replayingRelay.standardError.contains("replay since \(since) done")
                }
                let relayReplay = replayingRelay.standardError.split(separator: "\n").filter { $0.contains("replay since") }
                #expect(relayDone, "the relay never logged 'replay since \(since) done'; its replay lines: \(relayReplay)")
                await Self.settle(out: out)
                let final = Self.count(out: out, log: log, upTo: n3, verify: true)
                print("replay-relay: after the replays: \(final.summary(below: n3)); agent:\(agent.lines(containing: "replay since")); relay: \(relayReplay)")
                let exact = Self.expectExactlyOnce(final, below: n3, label: "restored relay and receiver after the replays")
                if !complete || !exact || !agentDone || !relayDone {
                    print("replay-relay: diagnostics\n" + scene.diagnostics() + agent.allStandardError())
                }
                #expect(await agent.terminate() == .exited(0), "agent exited badly on SIGTERM")
                relayProxy.setBackendPort(nil)
                #expect(await replayingRelay.terminate() == .exited(0), "relay exited badly on SIGTERM")
                #expect(await receiver.terminate() == .exited(0), "receiver exited badly on SIGTERM")
            } catch {
                print(agent.allStandardError())
                throw error
            }
        }
    }

    /// `--max-spool-bytes 2000000 --retain-bytes 1500000`: while the receiver is up, the spool keeps up to 1.5 MB
    /// of delivered segments; while it is down, the backlog grows into that room, so the retained segments must go
    /// first (counted apart), then the spool is full of backlog and the file source waits. Nothing undelivered may
    /// be dropped and nothing may stay blocked once the receiver is back.
    @Test("retention under capacity pressure: retained segments dropped first, nothing else dropped, every line exactly once")
    func retentionUnderCapacityPressure() async throws {
        let (n1, n2, n3) = (15_000, 45_000, 55_000)
        try await FerryScene.run("replay-pressure") { scene in
            let children = scene.children
            let out = try scene.path("out")
            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool-receiver"), "--out", out])
            let proxy = try scene.proxy(to: receiver.port)
            let log = try NumberedLines(host: "replay-3", path: scene.path("app.log"))
            let metricsPort = try freeTCPPort()
            let agent = RestartableNode(name: "agent", arguments: [
                "--file", log.path, "--spool", try scene.path("spool-agent"), "--to", "127.0.0.1:\(proxy.port)",
                "--host-name", log.host, "--max-spool-bytes", "2000000", "--retain-bytes", "1500000",
                "--metrics-listen", "127.0.0.1:\(metricsPort)",
            ] + Self.agentFlags, logDirectory: scene.directory.path, children: children)
            try agent.start()
            func metric(_ name: String) -> Double? {
                httpGet(port: metricsPort, path: "/metrics").flatMap { metricValue($0, name) }
            }
            func spoolSummary() -> String {
                let exposition = httpGet(port: metricsPort, path: "/metrics") ?? ""
                return ["logferry_spool_bytes", "logferry_spool_retained_bytes", "logferry_spool_retained_dropped_batches_total",
                        "logferry_spool_dropped_batches_total"]
                    .map { "\($0)=\(metricValue(exposition, $0).map { String(Int($0)) } ?? "absent")" }.joined(separator: " ")
            }
            do {
                let up = await Self.poll(timeout: .seconds(30)) { httpGet(port: metricsPort, path: "/metrics") != nil }
                #expect(up, "the agent's metrics endpoint never answered")

                // Phase 1, receiver up: the spool fills with retained (delivered) segments.
                try log.write(0..<n1)
                try await Self.waitForLines(below: n1, out: out, log: log, what: "lines 0..<\(n1) at the receiver")
                try await Task.sleep(for: .milliseconds(500))
                print("replay-pressure: phase 1 delivered; agent spool: \(spoolSummary())")

                // Phase 2, receiver down: the backlog needs the room the retained segments hold.
                proxy.setBackendPort(nil)
                #expect(await receiver.terminate() == .exited(0), "receiver exited badly on SIGTERM")
                try log.write(n1..<n2)
                let pressured = await Self.poll(timeout: .seconds(45)) {
                    (metric("logferry_spool_retained_dropped_batches_total") ?? 0) > 0
                }
                // Let the spool run full (the file source then waits).
                try await Task.sleep(for: .seconds(2))
                print("replay-pressure: receiver down, \(n2 - n1) lines written; retained segments dropped: \(pressured); agent spool: \(spoolSummary())")

                // Phase 3, receiver back: everything drains, the rest is shipped live.
                try await receiver.start()
                proxy.setBackendPort(receiver.port)
                try log.write(n2..<n3)
                let complete = try await Self.waitForLines(below: n3, out: out, log: log, what: "lines 0..<\(n3) at the receiver", deadline: .seconds(90), required: false)
                await Self.settle(out: out)
                let final = Self.count(out: out, log: log, upTo: n3, verify: true)
                let retainedDropped = metric("logferry_spool_retained_dropped_batches_total")
                let dropped = metric("logferry_spool_dropped_batches_total")
                print("replay-pressure: \(final.summary(below: n3)); agent spool: \(spoolSummary())")
                let exact = Self.expectExactlyOnce(final, below: n3, label: "capped spool with retention")
                #expect((retainedDropped ?? 0) > 0, """
                    logferry_spool_retained_dropped_batches_total is \(retainedDropped.map { "\($0)" } ?? "absent"): the capacity pressure \
                    never dropped a retained segment (agent spool: \(spoolSummary()))
                    """)
                #expect((dropped ?? 0) == 0, "logferry_spool_dropped_batches_total is \(dropped ?? 0): undelivered batches were dropped")
                if !complete || !exact || (retainedDropped ?? 0) == 0 || (dropped ?? 0) != 0 {
                    print("replay-pressure: diagnostics\n" + scene.diagnostics() + agent.allStandardError())
                }
                #expect(await agent.terminate() == .exited(0), "agent exited badly on SIGTERM")
                #expect(await receiver.terminate() == .exited(0), "receiver exited badly on SIGTERM")
            } catch {
                print(agent.allStandardError())
                throw error
            }
        }
    }

    @Test("replay into a fresh receiver: every retained line arrives once; the same --replay-since is not carried out again; --replay-again is, and nothing is doubled")
    func replayIntoFreshReceiver() async throws {
        let (n1, n2, n3, n4) = (8_000, 9_000, 10_000, 11_000)
        let since = Self.rfc3339(Date().addingTimeInterval(-60))
        try await FerryScene.run("replay-fresh") { scene in
            let children = scene.children
            let firstOut = try scene.path("out-first")
            let first = try await scene.node("receiver-first", ["receive", "--spool", try scene.path("spool-receiver-first"), "--out", firstOut])
            let log = try NumberedLines(host: "replay-4", path: scene.path("app.log"))
            let agentSpool = try scene.path("spool-agent")
            let common = [
                "--file", log.path, "--spool", agentSpool, "--host-name", log.host, "--retain-bytes", "100000000",
            ] + Self.agentFlags
            let agent = RestartableNode(name: "agent", arguments: common, logDirectory: scene.directory.path, children: children)
            try agent.start(["--to", "127.0.0.1:\(first.port)"])
            do {
                try log.write(0..<n1)
                try await Self.waitForLines(below: n1, out: firstOut, log: log, what: "lines 0..<\(n1) at the first receiver")
                #expect(await agent.terminate() == .exited(0), "agent exited badly on SIGTERM")

                // A fresh receiver on another port (started while the first still holds its port): new spool, new
                // output.
                let freshOut = try scene.path("out-fresh")
                let metricsPort = try freeTCPPort()
                let fresh = try await scene.node("receiver-fresh", [
                    "receive", "--spool", try scene.path("spool-receiver-fresh"), "--out", freshOut,
                    "--metrics-listen", "127.0.0.1:\(metricsPort)",
                ])
                #expect(fresh.port != first.port)
                #expect(await first.terminate() == .exited(0), "first receiver exited badly on SIGTERM")

                // What `spool inspect` says about the retained records.
                let inspect = try await LogFerryProcess.run(["spool", "inspect", agentSpool, "--replay-since", since])
                print("replay-fresh: spool inspect --replay-since \(since):\n\(inspect.output)")
                #expect(inspect.exit == .exited(0))
                let retainedLine = inspect.output.split(separator: "\n").first { $0.hasPrefix("retained") }
                let retainedBytes = retainedLine.flatMap { $0.split(separator: " ").dropFirst().first.flatMap { Int($0) } } ?? 0
                #expect(retainedBytes > 0, "spool inspect shows no retained bytes: \(retainedLine.map(String.init) ?? "no 'retained' line")")
                #expect(inspect.output.split(separator: "\n").contains { $0.hasPrefix("replay") },
                        "spool inspect --replay-since shows no 'replay' line")

                func duplicates() -> (duplicate: Int, trimmed: Int) {
                    let exposition = httpGet(port: metricsPort, path: "/metrics") ?? ""
                    return (Int(metricValue(exposition, "logferry_ferry_listener_duplicate_batches_total") ?? 0),
                            Int(metricValue(exposition, "logferry_ferry_listener_trimmed_batches_total") ?? 0))
                }
                let to = ["--to", "127.0.0.1:\(fresh.port)"]
                var diagnose = false

                // 1. The replay: every retained line reaches the fresh receiver, then the agent ships live.
                try agent.start(to + ["--replay-since", since])
                let replayed = try await Self.waitForLines(below: n1, out: freshOut, log: log, what: "the replayed lines 0..<\(n1) at the fresh receiver", required: false)
                let done = await agent.waitForLog("replay since \(since) done", deadline: .seconds(30))
                #expect(done, "the agent never logged 'replay since \(since) done'; its replay lines:\(agent.lines(containing: "replay since"))")
                try log.write(n1..<n2)
                try await Self.waitForLines(below: n2, out: freshOut, log: log, what: "lines 0..<\(n2) at the fresh receiver")
                await Self.settle(out: freshOut)
                let afterReplay = Self.count(out: freshOut, log: log, upTo: n2, verify: true)
                let duplicatesAfterReplay = duplicates()
                print("replay-fresh: after the replay: \(afterReplay.summary(below: n2)); receiver duplicates \(duplicatesAfterReplay)")
                if !Self.expectExactlyOnce(afterReplay, below: n2, label: "fresh receiver after the replay") || !replayed || !done { diagnose = true }

                // 2. The same --replay-since again: already carried out, nothing is sent twice.
                #expect(await agent.terminate() == .exited(0), "agent exited badly on SIGTERM")
                try agent.start(to + ["--replay-since", since])
                let skipped = await agent.waitForLog("already carried out", deadline: .seconds(30))
                #expect(skipped, "restarted with the same --replay-since, the agent did not say 'already carried out'; its replay lines:\(agent.lines(containing: "replay since"))")
                try log.write(n2..<n3)
                try await Self.waitForLines(below: n3, out: freshOut, log: log, what: "lines 0..<\(n3) at the fresh receiver")
                await Self.settle(out: freshOut)
                let afterRepeat = Self.count(out: freshOut, log: log, upTo: n3, verify: true)
                let duplicatesAfterRepeat = duplicates()
                print("replay-fresh: after a restart with the same --replay-since: \(afterRepeat.summary(below: n3)); receiver duplicates \(duplicatesAfterRepeat)")
                #expect(duplicatesAfterRepeat == duplicatesAfterReplay, """
                    restarted with the same --replay-since, the agent sent batches again: the fresh receiver's duplicate/trimmed \
                    counters went from \(duplicatesAfterReplay) to \(duplicatesAfterRepeat)
                    """)
                if !Self.expectExactlyOnce(afterRepeat, below: n3, label: "fresh receiver after the same --replay-since") || !skipped { diagnose = true }

                // 3. --replay-again: replayed, the receiver deduplicates.
                #expect(await agent.terminate() == .exited(0), "agent exited badly on SIGTERM")
                try agent.start(to + ["--replay-since", since, "--replay-again"])
                let doneAgain = await agent.waitForLog("replay since \(since) done", deadline: .seconds(30))
                #expect(doneAgain, "with --replay-again the agent never logged 'replay since \(since) done'; its replay lines:\(agent.lines(containing: "replay since"))")
                try log.write(n3..<n4)
                try await Self.waitForLines(below: n4, out: freshOut, log: log, what: "lines 0..<\(n4) at the fresh receiver")
                await Self.settle(out: freshOut)
                let afterAgain = Self.count(out: freshOut, log: log, upTo: n4, verify: true)
                let duplicatesAfterAgain = duplicates()
                print("replay-fresh: after --replay-again: \(afterAgain.summary(below: n4)); receiver duplicates \(duplicatesAfterAgain)")
                let sawCopies = duplicatesAfterAgain.duplicate + duplicatesAfterAgain.trimmed > duplicatesAfterRepeat.duplicate + duplicatesAfterRepeat.trimmed
                #expect(sawCopies, """
                    with --replay-again the fresh receiver saw no duplicate batch (duplicate, trimmed): \(duplicatesAfterRepeat) → \
                    \(duplicatesAfterAgain), so nothing was sent again; yet the agent says:\(agent.lines(containing: "replay since"))\
                    \(agent.lines(containing: "connected to"))
                    """)
                if !sawCopies {
                    diagnose = true
                    let exposition = httpGet(port: metricsPort, path: "/metrics") ?? "(no answer)"
                    print("replay-fresh: the fresh receiver's listener metrics:\n" + exposition.split(separator: "\n").filter { $0.contains("listener") }.joined(separator: "\n"))
                }
                if !Self.expectExactlyOnce(afterAgain, below: n4, label: "fresh receiver after --replay-again") || !doneAgain { diagnose = true }

                if diagnose { print("replay-fresh: diagnostics\n" + scene.diagnostics() + agent.allStandardError()) }
                #expect(await agent.terminate() == .exited(0), "agent exited badly on SIGTERM")
                #expect(await fresh.terminate() == .exited(0), "fresh receiver exited badly on SIGTERM")
            } catch {
                print(agent.allStandardError())
                throw error
            }
        }
    }
}

// MARK: - The numbered lines and the output

extension FerryReplayTests {
    /// The file an agent tails: line `n` is ``line(_:)``, appended in order.
    final class NumberedLines: @unchecked Sendable {
        let host: String
        let path: String
        /// Bytes per line, newline included: the same for every line.
        let lineLength: Int
        private(set) var written = 0
        static let padDigits = 120
        private static let hex = Array("0123456789abcdef".utf8)

        init(host: String, path: String) throws {
            self.host = host
            self.path = path
            lineLength = Self.line(0, host: host).count + 1
            guard FileManager.default.createFile(atPath: path, contents: nil) else { throw HarnessError("cannot create \(path)") }
        }

        /// `seq=NNNNNNNNN host=HOST pad=` and ``padDigits`` hex digits from a SplitMix64 seeded with `n`.
        static func line(_ n: Int, host: String) -> [UInt8] {
            let digits = String(n)
            var bytes = Array(("seq=" + String(repeating: "0", count: max(0, 9 - digits.count)) + digits + " host=\(host) pad=").utf8)
            bytes.reserveCapacity(bytes.count + padDigits)
            var state = UInt64(n) &* 0x2545_F491_4F6C_DD1D
            for _ in 0..<(padDigits / 16) {
                state &+= 0x9E37_79B9_7F4A_7C15
                var z = state
                z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
                z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
                z ^= z >> 31
                for shift in stride(from: 60, through: 0, by: -4) { bytes.append(hex[Int((z >> UInt64(shift)) & 0xF)]) }
            }
            return bytes
        }

        func line(_ n: Int) -> [UInt8] { Self.line(n, host: host) }

        /// Appends lines `range` (which must start where the last write ended) in chunks of 2,000 lines, each
        /// chunk in two `write` calls cut inside a line, so the agent sometimes reads half a line.
        func write(_ range: Range<Int>) throws {
            precondition(range.lowerBound == written, "lines are written in order")
            var start = range.lowerBound
            while start < range.upperBound {
                let end = min(start + 2_000, range.upperBound)
                var chunk: [UInt8] = []
                chunk.reserveCapacity((end - start) * lineLength)
                for n in start..<end {
                    chunk += line(n)
                    chunk.append(0x0A)
                }
                let cut = chunk.count / 2 + 7
                try appendToFile(path, Array(chunk[..<cut]))
                try appendToFile(path, Array(chunk[cut...]))
                start = end
                written = end
            }
        }
    }

    /// How often each line number is in the output.
    struct LineCount {
        var counts: [Int]
        var lines = 0
        var garbled = 0
        var garbledSamples: [String] = []
        var files: [String] = []

        func missing(in range: Range<Int>) -> [Int] { range.filter { counts[$0] == 0 } }
        func present(in range: Range<Int>) -> [Int] { range.filter { counts[$0] > 0 } }
        func doubled(in range: Range<Int>) -> [Int] { range.filter { counts[$0] > 1 } }
        /// Lines with a number at or above the limit (never written, or not expected yet).
        func beyond(_ limit: Int) -> Int { counts[limit...].reduce(0, +) }

        func summary(below limit: Int) -> String {
            let absent = missing(in: 0..<limit)
            let twice = doubled(in: 0..<limit)
            return "\(lines) lines in \(files) for 0..<\(limit): \(absent.count) missing \(numberRanges(absent).prefix(8)), "
                + "\(twice.count) doubled \(numberRanges(twice).prefix(8)), \(beyond(limit)) beyond, \(garbled) garbled"
        }
    }

    /// Tallies every output file under `out` (all must belong to `log.host`); with `verify` every line is compared
    /// byte for byte with what was written, else only its number is read.
    static func count(out: String, log: NumberedLines, upTo limit: Int, verify: Bool) -> LineCount {
        var tally = LineCount(counts: [Int](repeating: 0, count: max(limit, log.written) + 1))
        let prefix = Array("seq=".utf8)
        // The file sink keeps its own state under OUT/.logferry/: not output.
        for (name, bytes) in ReceivedOutput.files(in: out).sorted(by: { $0.key < $1.key }) where !name.hasPrefix(".") {
            tally.files.append(name)
            let foreign = !name.hasPrefix(log.host + "/")
            for line in ReceivedOutput.splitLines(bytes) {
                tally.lines += 1
                var number: Int?
                if !foreign, line.count == log.lineLength - 1, Array(line.prefix(4)) == prefix {
                    var value = 0
                    for byte in line[4..<13] {
                        guard byte >= 0x30, byte <= 0x39 else { value = -1; break }
                        value = value * 10 + Int(byte - 0x30)
                    }
                    if value >= 0, value < log.written, !verify || line == log.line(value) { number = value }
                }
                guard let number else {
                    tally.garbled += 1
                    if tally.garbledSamples.count < 5 { tally.garbledSamples.append("\(name): " + String(decoding: line.prefix(100), as: UTF8.self)) }
                    continue
                }
                if number < tally.counts.count { tally.counts[number] += 1 }
            }
        }
        return tally
    }

    /// Records an issue for every missing, doubled, unexpected or garbled line; true when exact.
    @discardableResult
    static func expectExactlyOnce(_ tally: LineCount, below limit: Int, label: String) -> Bool {
        var exact = true
        let missing = tally.missing(in: 0..<limit)
        if !missing.isEmpty {
            Issue.record("\(label): \(missing.count) of \(limit) lines missing: \(numberRanges(missing).prefix(12))")
            exact = false
        }
        let doubled = tally.doubled(in: 0..<limit)
        if !doubled.isEmpty {
            let extra = doubled.reduce(0) { $0 + tally.counts[$1] - 1 }
            Issue.record("\(label): \(doubled.count) of \(limit) lines more than once (\(extra) extra copies): \(numberRanges(doubled).prefix(12))")
            exact = false
        }
        if tally.beyond(limit) > 0 {
            Issue.record("\(label): \(tally.beyond(limit)) lines numbered \(limit) or more, which were not written yet")
            exact = false
        }
        if tally.garbled > 0 {
            Issue.record("\(label): \(tally.garbled) garbled lines, e.g. \(tally.garbledSamples)")
            exact = false
        }
        return exact
    }

    /// Bytes of every output file under `out`.
    static func outputBytes(_ out: String) -> Int {
        guard let enumerator = FileManager.default.enumerator(atPath: out) else { return 0 }
        var total = 0
        while let relative = enumerator.nextObject() as? String {
            if relative.hasPrefix(".") { continue }
            if let attributes = try? FileManager.default.attributesOfItem(atPath: out + "/" + relative),
                attributes[.type] as? FileAttributeType == .typeRegular
            {
                total += attributes[.size] as? Int ?? 0
            }
        }
        return total
    }

    /// Waits until every line below `limit` is in the output (checked from file sizes first, then by number).
    /// Throws after `deadline` when `required`, else records nothing and returns false (the final tally reports).
    @discardableResult
    static func waitForLines(
        below limit: Int,
        out: String,
        log: NumberedLines,
        what: String,
        deadline: Duration = .seconds(60),
        required: Bool = true
    ) async throws -> Bool {
        let started = ContinuousClock.now
        let complete = await waitUntil(timeout: deadline, interval: .milliseconds(300)) {
            guard outputBytes(out) >= limit * log.lineLength else { return false }
            return count(out: out, log: log, upTo: limit, verify: false).missing(in: 0..<limit).isEmpty
        }
        if !complete {
            let tally = count(out: out, log: log, upTo: limit, verify: false)
            let message = "gave up waiting for \(what) after \(deadline): \(tally.summary(below: limit))"
            print("FerryReplayTests: " + message)
            if required { throw HarnessError(message) }
        } else {
            print("FerryReplayTests: \(what) after \(ContinuousClock.now - started)")
        }
        return complete
    }

    /// Waits until the output has not grown for 1.5 s (late copies would show up meanwhile); at most 20 s.
    static func settle(out: String) async {
        var last = -1
        var stableSince = ContinuousClock.now
        let deadline = ContinuousClock.now + .seconds(20)
        while ContinuousClock.now < deadline {
            let bytes = outputBytes(out)
            if bytes != last {
                last = bytes
                stableSince = .now
            } else if ContinuousClock.now - stableSince >= .milliseconds(1500) {
                return
            }
            try? await Task.sleep(for: .milliseconds(250))
        }
    }

    /// A polling wait that answers whether `condition` came true within `timeout`.
    static func poll(timeout: Duration, _ condition: () async throws -> Bool) async -> Bool {
        (try? await waitUntil(timeout: timeout, interval: .milliseconds(200), condition)) ?? false
    }

    /// `cp -a source destination`: the backup and the restore, as an operator would do them.
    static func copyTree(_ source: String, to destination: String, children: ChildProcesses) async throws {
        let result = try await ToolProcess.run("/bin/cp", ["-a", source, destination], outputPrefix: destination + ".cp", children: children)
        try? FileManager.default.removeItem(atPath: destination + ".cp.stdout")
        try? FileManager.default.removeItem(atPath: destination + ".cp.stderr")
        guard result.status == 0 else { throw HarnessError("cp -a \(source) \(destination) failed (\(String(describing: result.status))): \(result.stderr)") }
    }

    /// An RFC 3339 time in UTC, e.g. `2026-11-30T08:00:00Z`.
    static func rfc3339(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
