import Foundation
import LogFerrySpool
import LogFerryTestSupport
import LogFerryWire
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// `logferry-example-app`, an application shipping its own logs with LogFerryLogging, against a real `logferry
/// receive`: SIGKILLed mid-run and restarted from where its spool got to, every message delivered exactly once.
@Suite("Example app with LogFerryLogging (real processes)", .serialized)
struct ExampleAppTests {
    /// The example app, built next to `logferry`.
    static var binaryPath: String {
        URL(fileURLWithPath: LogFerryProcess.binaryPath).deletingLastPathComponent().appendingPathComponent("logferry-example-app").path
    }

    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    /// The highest message number stored in the app's spool (its readable records; opens and closes the spool, as the
    /// restarted app will, so a torn tail is cut the same way).
    static func highestSpooledNumber(_ path: String) async throws -> Int? {
        let spool = try await Spool.open(SpoolConfiguration(directory: path), logger: quiet)
        let reader = spool.makeReader(from: 1)
        var decoder = BatchDecoder()
        var highest: Int?
        while let record = try await reader.nextIfAvailable() {
            for event in try decoder.decode(SealedBatch(serialized: record.payload)).events {
                if let number = messageNumber(event.line) { highest = max(highest ?? number, number) }
            }
        }
        await spool.close()
        return highest
    }

    static func messageNumber(_ line: [UInt8]) -> Int? {
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("message ") else { return nil }
        return Int(text.dropFirst("message ".count))
    }

    /// Every message number the receiver wrote, in output order.
    static func receivedNumbers(_ out: String) -> [Int] {
        ReceivedOutput.rawLines(in: out).values.flatMap { $0.compactMap(messageNumber) }
    }

    func app(_ arguments: [String], output: String, scene: FerryScene) throws -> ToolProcess {
        try ToolProcess(Self.binaryPath, arguments, outputPrefix: scene.directory.file(output), children: scene.children)
    }

    @Test("SIGKILL mid-run, restart from the last spooled number: every message arrives exactly once")
    func killAndRestart() async throws {
        try await FerryScene.run("example-app") { scene in
            let out = try scene.path("out")
            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("receiver-spool"), "--out", out])
            let spool = try scene.path("app-spool")
            // 20 s of logging at 1000/s: the kill after 3000 delivered lands mid-run even on a loaded machine.
            let total = 20_000
            // A buffer as large as the run: on a loaded machine the unpaced second run may outpace the spool, and a
            // drop (the documented drop-newest policy) is not what this test is about.
            let common = ["--to", "127.0.0.1:\(receiver.port)", "--spool", spool, "--host-name", "example-host",
                          "--buffer-events", "\(total)"]

            let first = try app(common + ["--count", "\(total)", "--rate", "1000"], output: "app-1", scene: scene)
            let midRun = await waitUntil(timeout: .seconds(120)) { ReceivedOutput.lineCount(in: out) >= 3_000 }
            #expect(midRun, "the first run shipped \(ReceivedOutput.lineCount(in: out)) lines; stderr:\n\(first.standardError.suffix(2000))")
            first.signal(SIGKILL)
            #expect(await first.wait(timeout: .seconds(30)) == nil, "the first run was not killed mid-run: \(first.standardOutput)")

            // What reached the spool must arrive; what was only in memory is the documented loss window, logged again.
            let spooled = try #require(try await Self.highestSpooledNumber(spool))
            #expect(spooled < total - 1, "the kill came after the last message was spooled")
            let next = spooled + 1
            let second = try app(common + ["--count", "\(total - next)", "--start", "\(next)"], output: "app-2", scene: scene)
            let status = await second.wait(timeout: .seconds(180))
            #expect(status == 0, "second run exit \(String(describing: status)); stderr:\n\(second.standardError.suffix(2000))")
            #expect(second.standardOutput.contains("dropped 0"), "\(second.standardOutput)")

            // The app exits once the receiver acknowledged everything; its file sink writes it out.
            let arrived = await waitUntil(timeout: .seconds(60)) { ReceivedOutput.lineCount(in: out) >= total }
            let numbers = Self.receivedNumbers(out)
            #expect(arrived, "received \(numbers.count) of \(total)")
            var seen = [Int](repeating: 0, count: total)
            var stray: [Int] = []
            for number in numbers {
                if (0..<total).contains(number) { seen[number] += 1 } else { stray.append(number) }
            }
            let duplicates = seen.indices.filter { seen[$0] > 1 }
            let missing = seen.indices.filter { seen[$0] == 0 }
            #expect(stray.isEmpty, "numbers never logged: \(stray.prefix(10))")
            #expect(duplicates.isEmpty, "delivered more than once: \(numberRanges(duplicates).prefix(10))")
            #expect(missing.isEmpty, "missing (spooled through \(spooled) before the kill): \(numberRanges(missing).prefix(10))")
            print("example app: killed after \(spooled + 1) messages were spooled; \(numbers.count) delivered once each")

            #expect(await stopGracefully(try #require(receiver.process)) == .exited(0))
        }
    }

    @Test("SIGTERM mid-run: the app stops logging, ships what it logged, and exits 0 once it is acknowledged")
    func gracefulStop() async throws {
        try await FerryScene.run("example-app-term") { scene in
            let out = try scene.path("out")
            let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("receiver-spool"), "--out", out])
            let app = try app(
                ["--to", "127.0.0.1:\(receiver.port)", "--spool", try scene.path("app-spool"), "--host-name", "term-host",
                 "--count", "100000", "--rate", "1000"],
                output: "app", scene: scene)
            let started = await waitUntil(timeout: .seconds(120)) { ReceivedOutput.lineCount(in: out) >= 500 }
            #expect(started, "nothing shipped; stderr:\n\(app.standardError.suffix(2000))")
            app.signal(SIGTERM)
            let status = await app.wait(timeout: .seconds(120))
            #expect(status == 0, "exit \(String(describing: status)); stderr:\n\(app.standardError.suffix(2000))")
            // It exits only after the acknowledgement: everything it logged is already in the receiver's spool.
            let last = try #require(app.standardOutput.split(separator: "\n").first { $0.hasPrefix("logged through ") }
                .flatMap { Int($0.dropFirst("logged through ".count)) }, "\(app.standardOutput)")
            #expect(last < 99_999, "SIGTERM came after the last message")
            #expect(app.standardOutput.contains("dropped 0"), "\(app.standardOutput)")
            let arrived = await waitUntil(timeout: .seconds(60)) { ReceivedOutput.lineCount(in: out) >= last + 1 }
            #expect(arrived)
            #expect(Self.receivedNumbers(out) == Array(0...last), "received \(numberRanges(Self.receivedNumbers(out)).prefix(5))")
            #expect(await stopGracefully(try #require(receiver.process)) == .exited(0))
        }
    }
}
