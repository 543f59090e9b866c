import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A `logferry relay` or `logferry receive` process that a test can kill and restart on the same spool.
///
/// It always listens on `127.0.0.1:0` and learns its port from the `listening on HOST:PORT` line, so a
/// restart may land on a new port; put a ``ChaosProxy`` in front when the node before it needs a fixed
/// address. Standard error goes to a log file per start, kept in the test directory for diagnosis.
public final class FerryNode: @unchecked Sendable {
    /// A name for messages and log files, e.g. `relay-b`.
    public let name: String
    /// The arguments after the subcommand name, without `--listen`.
    public let arguments: [String]
    private let logDirectory: String
    /// The current process, nil while the node is down.
    public private(set) var process: LogFerryProcess?
    /// The port the current process listens on.
    public private(set) var port: Int = 0
    /// How many times the node was started.
    public private(set) var starts = 0

    /// Prepares a node; `start()` runs it.
    public init(name: String, arguments: [String], logDirectory: String) {
        self.name = name
        self.arguments = arguments
        self.logDirectory = logDirectory
    }

    /// Starts the process and waits for its `listening on` line (failing after `deadline`).
    @discardableResult
    public func start(deadline: Duration = .seconds(60)) async throws -> Int {
        starts += 1
        let logPath = standardErrorPath(name, run: starts, in: logDirectory)
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
    public func kill9() async {
        await process?.stop()
        process = nil
    }

    /// SIGTERM and wait: the graceful path. Returns how the process ended.
    @discardableResult
    public func terminate() async -> LogFerryProcess.Exit? {
        guard let process else { return nil }
        process.signal(SIGTERM)
        let exit = await process.wait()
        self.process = nil
        return exit
    }

    /// Standard error of the current (or last) run.
    public var standardError: String { process?.standardError ?? "" }

    /// Standard error of every run, concatenated, for failure messages.
    public func allStandardError(lastLines: Int = 40) -> String {
        standardErrorOfRuns(name, starts: starts, in: logDirectory, lastLines: lastLines)
    }
}

/// A node did not come up.
public enum FerryNodeError: Error, CustomStringConvertible {
    /// The node's name, why, and its standard error.
    case didNotStart(String, String, String)

    /// What happened, with the end of the node's standard error.
    public var description: String {
        switch self {
        case .didNotStart(let name, let why, let stderr): "\(name) did not start: \(why)\n\(stderr.suffix(4000))"
        }
    }
}

/// Where run `run` of the process `name` writes its standard error: `<directory>/<name>-<run>.stderr.log`.
func standardErrorPath(_ name: String, run: Int, in directory: String) -> String {
    directory + "/\(name)-\(run).stderr.log"
}

/// The last `lastLines` lines of standard error of every run of `name` so far, each under a `--- NAME run N ---`
/// header, for failure messages.
func standardErrorOfRuns(_ name: String, starts: Int, in directory: String, lastLines: Int) -> String {
    var out = ""
    for run in 1...max(starts, 1) {
        guard let data = FileManager.default.contents(atPath: standardErrorPath(name, run: run, in: directory)) else { continue }
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n").suffix(lastLines)
        out += "--- \(name) run \(run) ---\n" + lines.joined(separator: "\n") + "\n"
    }
    return out
}
