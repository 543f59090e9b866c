import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A `logferry relay` or `logferry receive` process that a test can kill and restart on the same spool.
///
/// It always listens on `127.0.0.1:0` and learns its port from the `listening on HOST:PORT` line, so a
/// restart may land on a new port; put a ``ChaosProxy`` in front when the node before it needs a fixed
/// address. Standard error goes to a log file per start, kept in the test directory for diagnosis.
final class FerryNode: @unchecked Sendable {
    /// A name for messages and log files, e.g. `relay-b`.
    let name: String
    /// The arguments after the subcommand name, without `--listen`.
    let arguments: [String]
    private let logDirectory: String
    private(set) var process: LogFerryProcess?
    /// The port the current process listens on.
    private(set) var port: Int = 0
    /// How many times the node was started.
    private(set) var starts = 0

    /// Prepares a node; `start()` runs it.
    init(name: String, arguments: [String], logDirectory: String) {
        self.name = name
        self.arguments = arguments
        self.logDirectory = logDirectory
    }

    /// Starts the process and waits for its `listening on` line (failing after `deadline`).
    @discardableResult
    func start(deadline: Duration = .seconds(60)) async throws -> Int {
        starts += 1
        let logPath = logDirectory + "/\(name)-\(starts).stderr.log"
        let child = try LogFerryProcess(
            [arguments[0], "--listen", "127.0.0.1:0"] + arguments.dropFirst(),
            stderrPath: logPath
        )
        process = child
        let line: String?
        do {
            line = try await withDeadline(deadline, "\(name) to print 'listening on'") {
                await child.readLines(until: { $0.hasPrefix("listening on ") })
            }
        } catch {
            await child.stop()
            throw FerryNodeError.didNotStart(name, "no 'listening on' line in time", child.standardError)
        }
        guard let line, let colon = line.lastIndex(of: ":"), let port = Int(line[line.index(after: colon)...]) else {
            let exit = await child.stop()
            throw FerryNodeError.didNotStart(name, "ended (\(exit)) without printing 'listening on HOST:PORT'", child.standardError)
        }
        self.port = port
        return port
    }

    /// `kill -9` and reap.
    func kill9() async {
        await process?.stop()
        process = nil
    }

    /// SIGTERM and wait: the graceful path. Returns how the process ended.
    @discardableResult
    func terminate() async -> LogFerryProcess.Exit? {
        guard let process else { return nil }
        process.signal(SIGTERM)
        let exit = await process.wait()
        self.process = nil
        return exit
    }

    /// Standard error of the current (or last) run.
    var standardError: String { process?.standardError ?? "" }

    /// Standard error of every run, concatenated, for failure messages.
    func allStandardError(lastLines: Int = 40) -> String {
        var out = ""
        for run in 1...max(starts, 1) {
            let path = logDirectory + "/\(name)-\(run).stderr.log"
            guard let data = FileManager.default.contents(atPath: path) else { continue }
            let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(lastLines)
            out += "--- \(name) run \(run) ---\n" + lines.joined(separator: "\n") + "\n"
        }
        return out
    }
}

/// A node did not come up.
enum FerryNodeError: Error, CustomStringConvertible {
    case didNotStart(String, String, String)

    var description: String {
        switch self {
        case .didNotStart(let name, let why, let stderr): "\(name) did not start: \(why)\n\(stderr.suffix(4000))"
        }
    }
}

/// Everything one test starts, torn down in one place whatever happens: processes, proxies, in-process
/// clients and the temporary directory.
final class FerryScene: @unchecked Sendable {
    /// The test's directory: spools, outputs, logs, certificates.
    let directory: TemporaryDirectory
    private var nodes: [FerryNode] = []
    private var proxies: [ChaosProxy] = []

    init(_ label: String) throws {
        directory = try TemporaryDirectory(label)
    }

    /// A path inside the test directory (created as a directory when `create` is set).
    func path(_ name: String, create: Bool = false) throws -> String {
        let path = directory.file(name)
        if create { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        return path
    }

    /// Starts a node (`arguments[0]` is the subcommand) and registers it for teardown.
    func node(_ name: String, _ arguments: [String]) async throws -> FerryNode {
        let node = FerryNode(name: name, arguments: arguments, logDirectory: directory.path)
        nodes.append(node)
        try await node.start()
        return node
    }

    /// Starts a proxy and registers it for teardown.
    func proxy(to port: Int?) throws -> ChaosProxy {
        let proxy = try ChaosProxy(backendPort: port)
        proxies.append(proxy)
        return proxy
    }

    /// The standard error of every node, for a failure message.
    func diagnostics() -> String {
        nodes.map { $0.allStandardError() }.joined()
    }

    /// Kills every process, stops every proxy and deletes the directory.
    func tearDown() async {
        for node in nodes { await node.kill9() }
        for proxy in proxies { proxy.stop() }
        if ProcessInfo.processInfo.environment["LOGFERRY_KEEP_TEST_DIRS"] == nil {
            directory.remove()
        } else {
            print("kept \(directory.path)")
        }
    }

    /// Runs `body` with a fresh scene and always tears it down.
    static func run<T: Sendable>(_ label: String, _ body: (FerryScene) async throws -> T) async throws -> T {
        let scene = try FerryScene(label)
        do {
            let result = try await body(scene)
            await scene.tearDown()
            return result
        } catch {
            print(scene.diagnostics())
            await scene.tearDown()
            throw error
        }
    }
}

/// Runs `body`, failing with ``DeadlineExceeded`` if it takes longer than `deadline`. Deadlines here only
/// stop a broken test from hanging; they are set far above what a healthy run needs.
func withDeadline<T: Sendable>(
    _ deadline: Duration,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: deadline)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw DeadlineExceeded(what: what, deadline: deadline)
        }
        return value
    }
}

/// A wait in a test did not finish within its (generous) deadline.
struct DeadlineExceeded: Error, CustomStringConvertible {
    var what: String
    var deadline: Duration
    var description: String { "gave up waiting for \(what) after \(deadline)" }
}

/// Polls `condition` every 50 ms until it holds, failing after `deadline`.
func waitUntil(_ what: String, deadline: Duration, _ condition: @escaping @Sendable () async throws -> Bool) async throws {
    try await withDeadline(deadline, what) {
        while try await !condition() {
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// A flag one task sets and another reads.
final class Flag: Sendable {
    private let value = Mutex(false)

    /// Whether the flag is set.
    var isSet: Bool { value.withLock { $0 } }

    /// Sets the flag.
    func set() { value.withLock { $0 = true } }
}

/// A count one task bumps and another reads.
final class TallyCounter: Sendable {
    private let count = Mutex(0)

    /// The count so far.
    var value: Int { count.withLock { $0 } }

    /// Adds one.
    func increment() { count.withLock { $0 += 1 } }
}
