import Foundation
import LogFerryNode
import LogFerryTestSupport
import Testing

/// The file sink of `logferry receive` against faults outside the process: a receiver spool wiped or restored
/// from a backup under an output directory that kept growing, output files (and rotations) written by someone
/// else, host names that are not path-safe, and an output directory that cannot be created.
///
/// Each test reproduces a scenario that lost or doubled lines when the sink kept its committed state (file
/// lengths, rotation generations, origin ledger) in its spool cursor, cut files back to those lengths whatever
/// was in them, overwrote `NAME.1` on rotation, mapped host names to paths many-to-one, or died on an
/// unwritable output directory. Three more tests probe the same promises further (a foreign `NAME.k` at the next
/// rotation number, source names `app` and `app.log`, host names equal only up to Unicode normalisation); they
/// fail against the current sink and document those gaps. Real `logferry receive` processes on 127.0.0.1, fed by an in-process
/// ``TestOrigin``; a ``ChaosProxy`` keeps the receiver's address fixed across restarts.
/// `LOGFERRY_KEEP_TEST_DIRS=1` keeps spools, outputs and every process's standard error.
@Suite("File sink faults: wiped and restored spools, foreign files, odd host names, unwritable output (real processes)", .serialized)
struct FileSinkFaultTests {
    // MARK: - Helpers

    /// The bytes lines `range` of `host` take in a raw output file (newline included).
    static func bytes(of range: Range<Int>, host: String) -> Int {
        range.reduce(0) { $0 + TestOrigin.line($1, host: host).utf8.count + 1 }
    }

    /// The size of the file at `path` (0 when missing).
    static func size(_ path: String) -> Int {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
    }

    /// The total size of `paths`.
    static func size(_ paths: [String]) -> Int {
        paths.reduce(0) { $0 + size($1) }
    }

    /// Appends lines `range` in batches of `batchSize`, waits until the receiver acknowledged them, then until
    /// `files()` hold at least `expectedBytes` (returning whether they did within `deadline`, so a test that
    /// loses lines still reaches its exact check, which says what is wrong).
    @discardableResult
    static func ship(
        _ origin: TestOrigin, _ range: Range<Int>, batchSize: Int = 100, expectedBytes: Int,
        files: @escaping @Sendable () -> [String], deadline: Duration = .seconds(15)
    ) async throws -> Bool {
        let last = try await origin.append(lines: range, batchSize: batchSize)
        try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(30), "lines \(range) to be acknowledged")
        do {
            try await waitUntil("\(expectedBytes) bytes in the output", deadline: deadline) {
                size(files()) >= expectedBytes
            }
            return true
        } catch is DeadlineExceeded {
            print("file-sink-faults: after lines \(range) the output holds \(size(files())) bytes, expected \(expectedBytes)")
            return false
        }
    }

    /// SIGTERM, expecting a clean exit; the proxy refuses connections while the receiver is down.
    static func stop(_ receiver: FerryNode, behind proxy: ChaosProxy) async {
        proxy.setBackendPort(nil)
        let exit = await receiver.terminate()
        #expect(exit == .exited(0), "\(receiver.name) exited \(String(describing: exit)) on SIGTERM")
    }

    /// Starts the receiver again and points the proxy at it.
    static func restart(_ receiver: FerryNode, behind proxy: ChaosProxy) async throws {
        try await receiver.start()
        proxy.setBackendPort(receiver.port)
    }

    static func contents(_ path: String) -> [UInt8] {
        FileManager.default.contents(atPath: path).map { Array($0) } ?? []
    }

    /// How often `needle` occurs in `haystack` (non-overlapping).
    static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> Int {
        guard !needle.isEmpty, haystack.count >= needle.count else { return 0 }
        var count = 0
        var index = 0
        while index + needle.count <= haystack.count {
            if haystack[index] == needle[0], Array(haystack[index..<(index + needle.count)]) == needle {
                count += 1
                index += needle.count
            } else {
                index += 1
            }
        }
        return count
    }

    // MARK: - 1. Wiped receiver spool

    @Test("receiver spool wiped between runs (output kept): 3,000 lines exactly once, in order")
    func wipedReceiverSpool() async throws {
        try await FerryScene.run("filesink-wiped-spool") { scene in
            let host = "wiped-origin"
            let out = try scene.path("out", create: true)
            let spool = try scene.path("spool-receiver")
            let receiver = try await scene.node("receiver", ["receive", "--spool", spool, "--out", out])
            let proxy = try scene.proxy(to: receiver.port)
            let origin = try await TestOrigin(
                host: host, source: "app", directory: try scene.path("spool-origin"),
                upstreams: [Upstream(host: "127.0.0.1", port: proxy.port)]
            )
            let file = out + "/" + host + "/app.log"
            try await origin.shipping {
                try await Self.ship(origin, 0..<1000, expectedBytes: Self.bytes(of: 0..<1000, host: host), files: { [file] })
                await Self.stop(receiver, behind: proxy)
                try FileManager.default.removeItem(atPath: spool)
                try await Self.restart(receiver, behind: proxy)
                try await Self.ship(origin, 1000..<2000, expectedBytes: Self.bytes(of: 0..<2000, host: host), files: { [file] })
                await Self.stop(receiver, behind: proxy)
                try await Self.restart(receiver, behind: proxy)
                try await Self.ship(origin, 2000..<3000, expectedBytes: Self.bytes(of: 0..<3000, host: host), files: { [file] })
            }
            await Self.stop(receiver, behind: proxy)
            let report = OriginOutput.check(paths: [file], host: host, expected: 3000)
            print("file-sink-faults wiped spool: \(report)")
            #expect(report.isExact, "after wiping the receiver's spool the output is not lines 0..<3000 once each, in order: \(report)\n\(scene.diagnostics())")
            #expect(report.lines == 3000)
        }
    }

    // MARK: - 2. Restored spool

    @Test("receiver spool restored from an older copy (output kept): nothing cut back, every line exactly once")
    func restoredReceiverSpool() async throws {
        try await FerryScene.run("filesink-restored-spool") { scene in
            let host = "restored-origin"
            let out = try scene.path("out", create: true)
            let spool = try scene.path("spool-receiver")
            let backup = try scene.path("spool-receiver-backup")
            let receiver = try await scene.node("receiver", ["receive", "--spool", spool, "--out", out])
            let proxy = try scene.proxy(to: receiver.port)
            let origin = try await TestOrigin(
                host: host, source: "app", directory: try scene.path("spool-origin"),
                upstreams: [Upstream(host: "127.0.0.1", port: proxy.port)]
            )
            let file = out + "/" + host + "/app.log"
            var sizeBeforeRestore = 0
            try await origin.shipping {
                try await Self.ship(origin, 0..<1000, expectedBytes: Self.bytes(of: 0..<1000, host: host), files: { [file] })
                await Self.stop(receiver, behind: proxy)
                try FileManager.default.copyItem(atPath: spool, toPath: backup)
                try await Self.restart(receiver, behind: proxy)
                try await Self.ship(origin, 1000..<2000, expectedBytes: Self.bytes(of: 0..<2000, host: host), files: { [file] })
                await Self.stop(receiver, behind: proxy)
                sizeBeforeRestore = Self.size(file)
                try FileManager.default.removeItem(atPath: spool)
                try FileManager.default.copyItem(atPath: backup, toPath: spool)
                try await Self.restart(receiver, behind: proxy)
                try await Self.ship(origin, 2000..<3000, expectedBytes: Self.bytes(of: 0..<3000, host: host), files: { [file] })
            }
            await Self.stop(receiver, behind: proxy)
            #expect(sizeBeforeRestore == Self.bytes(of: 0..<2000, host: host), "the output held \(sizeBeforeRestore) bytes before the restore")
            let report = OriginOutput.check(paths: [file], host: host, expected: 3000)
            print("file-sink-faults restored spool: \(report)")
            #expect(report.isExact, "after restoring the receiver's spool from a backup the output is not lines 0..<3000 once each, in order (lines 1000..<2000 cut?): \(report)\n\(scene.diagnostics())")
            #expect(report.lines == 3000)
            #expect(!receiver.allStandardError().contains("cut \(file) back"), "the sink cut the output back after the restore:\n\(receiver.allStandardError())")
        }
    }

    // MARK: - 3. Adoption and rotation

    @Test("foreign NAME.log and NAME.log.1 before the first start, --rotate-bytes 4096: foreign bytes kept, .1 untouched, shipped lines once")
    func adoptsForeignFilesAndNeverOverwritesRotations() async throws {
        try await FerryScene.run("filesink-adopt-rotate") { scene in
            let host = "adopt-host"
            let out = try scene.path("out", create: true)
            let directory = try scene.path("out/" + host, create: true)
            let name = "app.log"
            let foreignCurrent = Array("foreign current 1: written by someone else\nforeign current 2\nforeign current 3 \u{00E9}\n".utf8)
            let foreignRotated = Array("foreign rotated 1: an older rotation\nforeign rotated 2\n".utf8)
            try Data(foreignCurrent).write(to: URL(fileURLWithPath: directory + "/" + name))
            try Data(foreignRotated).write(to: URL(fileURLWithPath: directory + "/" + name + ".1"))

            let spool = try scene.path("spool-receiver")
            let arguments = ["receive", "--spool", spool, "--out", out, "--rotate-bytes", "4096"]
            let receiver = try await scene.node("receiver", arguments)
            let proxy = try scene.proxy(to: receiver.port)
            let origin = try await TestOrigin(
                host: host, source: "app", directory: try scene.path("spool-origin"),
                upstreams: [Upstream(host: "127.0.0.1", port: proxy.port)]
            )
            let total = 1000
            let foreignBytes = foreignCurrent.count + foreignRotated.count
            let files: @Sendable () -> [String] = { ReceivedOutput.rotatedFiles(in: directory, name: name) }
            try await origin.shipping {
                // Waves of 100 lines: the sink runs dry after each, commits and rotates (about every 50 lines).
                for wave in 0..<(total / 100) {
                    let range = (wave * 100)..<((wave + 1) * 100)
                    try await Self.ship(origin, range, batchSize: 25,
                                        expectedBytes: foreignBytes + Self.bytes(of: 0..<range.upperBound, host: host), files: files,
                                        deadline: .seconds(5))
                    if wave == 4 {
                        // A clean restart half way: the adopted generation must be remembered.
                        await Self.stop(receiver, behind: proxy)
                        try await Self.restart(receiver, behind: proxy)
                    }
                }
            }
            await Self.stop(receiver, behind: proxy)

            let paths = files()
            print("file-sink-faults adoption: output files \(paths.map { ($0 as NSString).lastPathComponent })")
            #expect(paths.count >= 5, "expected several rotations, got \(paths.map { ($0 as NSString).lastPathComponent })")
            #expect(Self.contents(directory + "/" + name + ".1") == foreignRotated,
                    "\(name).1 (a foreign rotation) was changed: \(String(decoding: Self.contents(directory + "/" + name + ".1").prefix(300), as: UTF8.self))")
            // The foreign current file, byte for byte, at the start of exactly one file (where it was adopted).
            let holders = paths.filter { Self.contents($0).starts(with: foreignCurrent) }
            #expect(holders.count == 1, "the 3 foreign lines of \(name) start \(holders.count) files: \(holders)")
            var all: [UInt8] = []
            for path in paths { all += Self.contents(path) }
            #expect(Self.occurrences(of: foreignCurrent, in: all) == 1, "the 3 foreign lines are not present exactly once, contiguous")
            #expect(Self.occurrences(of: foreignRotated, in: all) == 1, "the 2 foreign rotated lines are not present exactly once, contiguous")
            // The shipped lines, once each and in order, across .1, .2, ... and the current file.
            var shipped = all
            for block in [foreignRotated, foreignCurrent] {
                if let range = Self.firstRange(of: block, in: shipped) { shipped.removeSubrange(range) }
            }
            let shippedPath = try scene.path("shipped-lines.txt")
            try Data(shipped).write(to: URL(fileURLWithPath: shippedPath))
            let report = OriginOutput.check(paths: [shippedPath], host: host, expected: total)
            print("file-sink-faults adoption: \(report)")
            #expect(report.isExact, "shipped lines across the rotations are not 0..<\(total) once each, in order: \(report)\n\(scene.diagnostics())")
            #expect(report.lines == total)
            #expect(receiver.allStandardError().contains("adopting"), "no 'adopting ... as it is' message:\n\(receiver.allStandardError())")
        }
    }

    static func firstRange(of needle: [UInt8], in haystack: [UInt8]) -> Range<Int>? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        for index in 0...(haystack.count - needle.count) where Array(haystack[index..<(index + needle.count)]) == needle {
            return index..<(index + needle.count)
        }
        return nil
    }

    @Test("a foreign NAME.k at the next rotation number, dropped in while the receiver is down: committed lines of NAME kept, NAME.k untouched")
    func foreignRotationAtTheNextNumberWhileDown() async throws {
        try await FerryScene.run("filesink-foreign-next-rotation") { scene in
            let host = "next-rotation-host"
            let out = try scene.path("out", create: true)
            let directory = out + "/" + host
            let name = "app.log"
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", out, "--rotate-bytes", "4096",
            ])
            let proxy = try scene.proxy(to: receiver.port)
            let origin = try await TestOrigin(
                host: host, source: "app", directory: try scene.path("spool-origin"),
                upstreams: [Upstream(host: "127.0.0.1", port: proxy.port)]
            )
            let files: @Sendable () -> [String] = { ReceivedOutput.rotatedFiles(in: directory, name: name) }
            let foreign = Array("foreign rotation: restored from an archive by an operator\n".utf8)
            var dropped = ""
            var currentBeforeRestart: [UInt8] = []
            try await origin.shipping {
                // Waves of 100 lines rotate a few times; a last wave of 10 lines stays in NAME (under 4096 bytes).
                for range in [0..<100, 100..<200, 200..<300, 300..<310] {
                    try await Self.ship(origin, range, batchSize: 25,
                                        expectedBytes: Self.bytes(of: 0..<range.upperBound, host: host), files: files,
                                        deadline: .seconds(5))
                    // Past the sink's commit interval (200 ms), so each wave is committed (and rotated) on its own.
                    try await Task.sleep(for: .milliseconds(400))
                }
                await Self.stop(receiver, behind: proxy)
                currentBeforeRestart = Self.contents(directory + "/" + name)
                // Someone else puts a file at the next free rotation number.
                let highest = files().dropLast().compactMap { Int($0.split(separator: ".").last ?? "") }.max() ?? 0
                dropped = directory + "/" + name + ".\(highest + 1)"
                try Data(foreign).write(to: URL(fileURLWithPath: dropped))
                try await Self.restart(receiver, behind: proxy)
                for range in [310..<400, 400..<500] {
                    try await Self.ship(origin, range, batchSize: 25,
                                        expectedBytes: foreign.count + Self.bytes(of: 0..<range.upperBound, host: host), files: files,
                                        deadline: .seconds(5))
                }
            }
            await Self.stop(receiver, behind: proxy)

            let paths = files()
            print("file-sink-faults next rotation: dropped \((dropped as NSString).lastPathComponent); output files \(paths.map { ($0 as NSString).lastPathComponent })")
            #expect(!currentBeforeRestart.isEmpty, "the test meant NAME to hold committed lines at the restart")
            #expect(Self.contents(dropped) == foreign, "the foreign \((dropped as NSString).lastPathComponent) was changed")
            var all: [UInt8] = []
            for path in paths where path != dropped { all += Self.contents(path) }
            let shippedPath = try scene.path("shipped-lines.txt")
            try Data(all).write(to: URL(fileURLWithPath: shippedPath))
            let report = OriginOutput.check(paths: [shippedPath], host: host, expected: 500)
            print("file-sink-faults next rotation: \(report)")
            #expect(report.isExact, "with a foreign NAME.k at the next number the output is not lines 0..<500 once each (NAME cut back?): \(report)\n\(receiver.allStandardError())")
            #expect(report.lines == 500)
        }
    }

    // MARK: - 4. Host names

    static let oddHosts: [String] = [
        "a_b", "a/b", "..", "", "ééé", "日本", "web 1", String(repeating: "h", count: 150) + String(repeating: "/", count: 150),
    ]

    @Test("hosts a_b, a/b, .., empty, ééé, 日本, 'web 1', 300 characters: one distinct directory each, nothing outside OUT")
    func hostNamesMapOneToOne() async throws {
        try await FerryScene.run("filesink-host-names") { scene in
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool-receiver"), "--out", out])
            let perHost = 10
            for (index, host) in Self.oddHosts.enumerated() {
                let origin = try await TestOrigin(
                    host: host, source: "chaos", directory: try scene.path("spool-origin-\(index)"),
                    upstreams: [Upstream(host: "127.0.0.1", port: receiver.port)]
                )
                try await origin.shipping {
                    let last = try await origin.append(lines: 0..<perHost, batchSize: perHost)
                    try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(30), "host '\(host)' to be acknowledged")
                }
            }
            let expectedBytes = Self.oddHosts.reduce(0) { $0 + Self.bytes(of: 0..<perHost, host: $1) }
            try? await waitUntil("every host's lines in the output", deadline: .seconds(15)) {
                ReceivedOutput.files(in: out).values.reduce(0) { $0 + $1.count } >= expectedBytes
            }
            let exit = await receiver.terminate()
            #expect(exit == .exited(0), "receiver exited \(String(describing: exit)) on SIGTERM")

            // Which host each output file holds (from its first line), and that it holds exactly that host's lines.
            let files = ReceivedOutput.files(in: out)
            print("file-sink-faults host names: output files \(files.keys.sorted())")
            var fileOfHost: [String: [String]] = [:]
            for (relative, bytes) in files {
                let text = String(decoding: bytes, as: UTF8.self)
                let firstLine = text.prefix { $0 != "\n" }
                guard let start = firstLine.range(of: " origin="), let end = firstLine.range(of: " msg=the quick", options: .backwards) else {
                    Issue.record("output file \(relative) does not start with a test line: \(firstLine.prefix(120))")
                    continue
                }
                let host = String(firstLine[start.upperBound..<end.lowerBound])
                fileOfHost[host, default: []].append(relative)
                let report = OriginOutput.check(paths: [out + "/" + relative], host: host, expected: perHost)
                #expect(report.isExact && report.lines == perHost, "\(relative) (host '\(host)') is not exactly its 10 lines: \(report)")
            }
            var directories: [String: String] = [:]
            for host in Self.oddHosts {
                let holders = fileOfHost[host] ?? []
                #expect(holders.count == 1, "host '\(host)' has its lines in \(holders.count) files: \(holders)")
                guard let relative = holders.first else { continue }
                let components = relative.split(separator: "/", omittingEmptySubsequences: false)
                #expect(components.count == 2 && components[1] == "chaos.log", "host '\(host)' was written to \(relative), not <host>/chaos.log")
                let directory = String(components[0])
                if let other = directories[directory] {
                    Issue.record("hosts '\(other)' and '\(host)' share the directory \(directory)")
                }
                directories[directory] = host
                #expect(!directory.hasPrefix("."), "host '\(host)' got a hidden directory \(directory)")
                #expect(directory.utf8.count <= 255, "host '\(host)' got a directory name of \(directory.utf8.count) bytes")
            }
            #expect(directories.count == Self.oddHosts.count, "\(Self.oddHosts.count) hosts got \(directories.count) directories: \(directories)")
            for readable in ["a_b", "\u{E9}\u{E9}\u{E9}", "\u{65E5}\u{672C}"] {
                // Byte for byte (Swift compares strings up to canonical equivalence).
                let named = directories.first { Array($0.key.utf8) == Array(readable.utf8) }
                #expect(named?.value == readable, "host '\(readable)' is not in a directory of that very name: \(directories)")
            }
            // Nothing outside OUT: the test directory holds only what the test made, OUT only host directories.
            let top = scene.directory.list("")
            let unexpected = top.filter { !($0 == "out" || $0.hasPrefix("spool-") || $0.hasSuffix(".stderr.log")) }
            #expect(unexpected.isEmpty, "the receiver wrote outside its output directory: \(unexpected)")
            for entry in scene.directory.list("out") where entry != ".logferry" {
                var isDirectory: ObjCBool = false
                _ = FileManager.default.fileExists(atPath: out + "/" + entry, isDirectory: &isDirectory)
                #expect(isDirectory.boolValue, "OUT/\(entry) is a file, not a host directory")
            }
            #expect(scene.directory.list("out").filter { $0 != ".logferry" }.count == Self.oddHosts.count,
                    "OUT holds \(scene.directory.list("out"))")
        }
    }

    // MARK: - 5. Unwritable output directory

    @Test("OUT under a regular file: the receiver keeps acking into its spool and names the path; once creatable, every line once")
    func unwritableOutputDirectory() async throws {
        try await FerryScene.run("filesink-unwritable") { scene in
            let host = "blocked-origin"
            let blocker = try scene.path("afile")
            try Data("not a directory\n".utf8).write(to: URL(fileURLWithPath: blocker))
            let out = blocker + "/out"
            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool-receiver"), "--out", out])
            let origin = try await TestOrigin(
                host: host, source: "app", directory: try scene.path("spool-origin"),
                upstreams: [Upstream(host: "127.0.0.1", port: receiver.port)]
            )
            let file = out + "/" + host + "/app.log"
            let total = 1000
            try await origin.shipping {
                // Acked although nothing can be written: the batches are durable in the receiver's spool.
                let last = try await origin.append(lines: 0..<total, batchSize: 100)
                try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(30), "the batches to be acknowledged while OUT is unusable")
                try await waitUntil("the file sink to name the output path", deadline: .seconds(12)) {
                    receiver.standardError.contains("file sink cannot")
                }
                let stderr = receiver.standardError
                let complaint = stderr.split(separator: "\n").first { $0.contains("file sink cannot") }.map(String.init) ?? ""
                print("file-sink-faults unwritable: \(complaint)")
                #expect(complaint.contains(blocker), "the complaint does not name the path: \(complaint)")
                #expect(complaint.contains("chown it to that user"), "the complaint does not say what to do: \(complaint)")
                #expect(!FileManager.default.fileExists(atPath: file))
                // Still alive: it takes more batches.
                let more = try await origin.append(lines: total..<(total + 100), batchSize: 100)
                try await origin.waitUntilAcknowledged(through: more, deadline: .seconds(30), "a batch after the complaint to be acknowledged")

                try FileManager.default.removeItem(atPath: blocker)
                let fixed = ContinuousClock.now
                let expected = Self.bytes(of: 0..<(total + 100), host: host)
                try? await waitUntil("every line written once OUT is creatable", deadline: .seconds(15)) {
                    Self.size(file) >= expected
                }
                print("file-sink-faults unwritable: \(Self.size(file)) of \(expected) bytes \(ContinuousClock.now - fixed) after the path became creatable")
            }
            let exit = await receiver.terminate()
            #expect(exit == .exited(0), "receiver exited \(String(describing: exit)) on SIGTERM")
            let report = OriginOutput.check(paths: [file], host: host, expected: total + 100)
            print("file-sink-faults unwritable: \(report)")
            #expect(report.isExact, "after OUT became creatable the output is not every line once, in order: \(report)\n\(scene.diagnostics())")
            #expect(report.lines == total + 100)
        }
    }

    // MARK: - Source names, canonically equivalent host names

    @Test("sources app.log, app/main.log, app_main.log, stdin, empty and .hidden of one host: one distinct file each")
    func sourceNamesMapOneToOne() async throws {
        try await FerryScene.run("filesink-source-names") { scene in
            let host = "source-host"
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool-receiver"), "--out", out])
            // `app` and `app.log` would share `app.log`: the one documented exception (OutputName, CONFIGURATION.md).
            let sources = ["app.log", "app/main.log", "app_main.log", "stdin", "", ".hidden"]
            let perSource = 10
            for (index, source) in sources.enumerated() {
                let origin = try await TestOrigin(
                    host: host, source: source, directory: try scene.path("spool-origin-\(index)"),
                    upstreams: [Upstream(host: "127.0.0.1", port: receiver.port)]
                )
                try await origin.shipping {
                    let last = try await origin.append(lines: 0..<perSource, batchSize: perSource)
                    try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(30), "source '\(source)' to be acknowledged")
                }
            }
            let expectedBytes = sources.count * Self.bytes(of: 0..<perSource, host: host)
            try? await waitUntil("every source's lines in the output", deadline: .seconds(15)) {
                ReceivedOutput.files(in: out).values.reduce(0) { $0 + $1.count } >= expectedBytes
            }
            let exit = await receiver.terminate()
            #expect(exit == .exited(0), "receiver exited \(String(describing: exit)) on SIGTERM")
            let files = ReceivedOutput.files(in: out)
            print("file-sink-faults source names: output files \(files.keys.sorted())")
            // Every origin writes the same 10 lines: one file per source, each holding them exactly once.
            #expect(files.count == sources.count, "\(sources.count) sources were written to \(files.count) files: \(files.keys.sorted())")
            for relative in files.keys.sorted() {
                #expect(relative.hasPrefix(host + "/") && !relative.dropFirst(host.count + 1).contains("/"), "\(relative) is not a file of \(host)/")
                #expect(!relative.dropFirst(host.count + 1).hasPrefix("."), "\(relative) is hidden")
                let report = OriginOutput.check(paths: [out + "/" + relative], host: host, expected: perSource)
                #expect(report.isExact && report.lines == perSource, "\(relative) is not exactly one source's 10 lines: \(report)")
            }
            #expect(files.keys.contains(host + "/app_main.log"), "app/main.log is not written to app_main.log: \(files.keys.sorted())")
        }
    }

    @Test("hosts \u{E9}\u{E9}\u{E9} (NFC) and e\u{301}e\u{301}e\u{301} (NFD), distinct bytes: distinct directories")
    func canonicallyEquivalentHostNames() async throws {
        try await FerryScene.run("filesink-nfc-nfd") { scene in
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool-receiver"), "--out", out])
            let hosts = ["\u{E9}\u{E9}\u{E9}", "e\u{301}e\u{301}e\u{301}"]
            let perHost = 10
            for (index, host) in hosts.enumerated() {
                let origin = try await TestOrigin(
                    host: host, source: "chaos", directory: try scene.path("spool-origin-\(index)"),
                    upstreams: [Upstream(host: "127.0.0.1", port: receiver.port)]
                )
                try await origin.shipping {
                    let last = try await origin.append(lines: 0..<perHost, batchSize: perHost)
                    try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(30), "host \(Array(host.utf8)) to be acknowledged")
                }
            }
            let expectedBytes = hosts.reduce(0) { $0 + Self.bytes(of: 0..<perHost, host: $1) }
            try? await waitUntil("both hosts' lines in the output", deadline: .seconds(15)) {
                ReceivedOutput.files(in: out).values.reduce(0) { $0 + $1.count } >= expectedBytes
            }
            let exit = await receiver.terminate()
            #expect(exit == .exited(0), "receiver exited \(String(describing: exit)) on SIGTERM")
            // Directory names by their bytes (Swift would compare NFC and NFD as equal).
            let names = scene.directory.list("out").filter { $0 != ".logferry" }
            print("file-sink-faults NFC/NFD: directories \(names.map { Array($0.utf8) })")
            #expect(names.count == 2, "two hosts of distinct bytes got \(names.count) directories: \(names.map { Array($0.utf8) })")
            for host in hosts {
                let directory = OutputNameOracle.expected(host)
                let report = OriginOutput.check(paths: [out + "/" + directory + "/chaos.log"], host: host, expected: perHost)
                #expect(report.isExact && report.lines == perHost, "host \(Array(host.utf8)) in \(directory)/chaos.log: \(report)")
            }
        }
    }
}

/// The documented mapping of a short host name to its directory, written independently of the product:
/// ASCII letters, digits, `-`, `_` and non-ASCII letters stay, everything else is `%XX` of its UTF-8 bytes.
enum OutputNameOracle {
    static func expected(_ name: String) -> String {
        if name.isEmpty { return "%" }
        var out = ""
        for (index, scalar) in name.unicodeScalars.enumerated() {
            let keep: Bool
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-", "_": keep = true
            case ".": keep = index > 0
            default: keep = scalar.value >= 0x80 && (scalar.properties.isAlphabetic || scalar.properties.numericType != nil)
            }
            if keep {
                out.unicodeScalars.append(scalar)
            } else {
                for byte in String(scalar).utf8 { out += "%" + String(format: "%02X", byte) }
            }
        }
        return out
    }
}
