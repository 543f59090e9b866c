import Foundation

/// A `logferry` node — an agent by default, or any subcommand without a listener to announce (e.g.
/// `receive --nats-in`) — that a test stops or kills and starts again on the same spool, and whose standard error
/// it reads: run N writes `<name>-<N>.stderr.log` in the log directory. (``FerryNode`` is the one for nodes that
/// listen.)
public final class RestartableNode: @unchecked Sendable {
    /// A name for messages and log files, e.g. `agent`.
    public let name: String
    /// The subcommand (`agent` unless given), then ``arguments``.
    public let subcommand: [String]
    /// The arguments after the subcommand, passed to every start.
    public let arguments: [String]
    private let logDirectory: String
    private let children: ChildProcesses
    /// The current process, nil while the agent is down.
    public private(set) var process: LogFerryProcess?
    /// How many times the agent was started.
    public private(set) var starts = 0

    /// Prepares a node; `start()` runs it. Every process it starts is registered with `children`. With
    /// `subcommand` nil, `arguments` start with the subcommand.
    public init(
        name: String, subcommand: String? = "agent", arguments: [String], logDirectory: String, children: ChildProcesses
    ) {
        self.name = name
        self.subcommand = subcommand.map { [$0] } ?? []
        self.arguments = arguments
        self.logDirectory = logDirectory
        self.children = children
    }

    private func logPath(_ run: Int) -> String { standardErrorPath(name, run: run, in: logDirectory) }

    /// Starts `logferry` with the subcommand, ``arguments`` and `extra` (flags for this start only).
    public func start(_ extra: [String] = []) throws {
        starts += 1
        process = children.track(try LogFerryProcess(subcommand + arguments + extra, stderrPath: logPath(starts)))
    }

    /// `kill -9` and reap.
    public func kill9() async {
        await process?.stop()
        process = nil
    }

    /// SIGTERM, and SIGKILL after 30 s (then nil).
    public func terminate() async -> LogFerryProcess.Exit? {
        guard let process else { return nil }
        let exit = await stopGracefully(process)
        self.process = nil
        return exit
    }

    /// Standard error of the current run.
    public var currentLog: String {
        FileManager.default.contents(atPath: logPath(starts)).map { String(decoding: $0, as: UTF8.self) } ?? ""
    }

    /// How many lines of the current run's log contain `text`.
    public func occurrences(of text: String) -> Int {
        currentLog.split(separator: "\n").count { $0.contains(text) }
    }

    /// How many lines of every run's log contain `text`.
    public func occurrencesInAllRuns(of text: String) -> Int {
        (1...max(starts, 1)).reduce(0) { total, run in
            let log = FileManager.default.contents(atPath: standardErrorPath(name, run: run, in: logDirectory))
                .map { String(decoding: $0, as: UTF8.self) } ?? ""
            return total + log.split(separator: "\n").count { $0.contains(text) }
        }
    }

    /// Waits until the current run logs a line containing `text`; false when `deadline` passes first.
    public func waitForLog(_ text: String, deadline: Duration) async -> Bool {
        await waitUntil(timeout: deadline) { self.currentLog.contains(text) }
    }

    /// The last 12 lines of the current run's log that contain `text`, indented, for a failure message.
    public func lines(containing text: String) -> String {
        currentLog.split(separator: "\n").filter { $0.contains(text) }.suffix(12).map { "\n        " + $0 }.joined()
    }

    /// Standard error of the current run, or of the last two when the current one has said nothing yet.
    public func standardErrorOfLastRuns() -> String {
        (max(1, starts - 1)...max(starts, 1)).compactMap { FileManager.default.contents(atPath: logPath($0)) }
            .map { String(decoding: $0, as: UTF8.self) }.joined(separator: "\n")
    }

    /// The current run and the size of its log: where a later ``log(since:containing:lastLines:)`` starts.
    public func logPosition() -> (run: Int, offset: Int) {
        let size = (try? FileManager.default.attributesOfItem(atPath: logPath(starts))[.size] as? Int) ?? 0
        return (starts, size)
    }

    /// The lines logged since `position` (in that run and any later one) that contain `text`, indented.
    public func log(since position: (run: Int, offset: Int), containing text: String, lastLines: Int) -> String {
        var lines: [Substring] = []
        for run in position.run...max(starts, position.run) {
            guard let data = FileManager.default.contents(atPath: logPath(run)) else { continue }
            let from = run == position.run ? min(position.offset, data.count) : 0
            lines += String(decoding: data[from...], as: UTF8.self).split(separator: "\n").filter { $0.contains(text) }
        }
        return lines.suffix(lastLines).map { "\n        " + $0 }.joined()
    }

    /// Standard error of every run, concatenated, for failure messages.
    public func allStandardError(lastLines: Int = 40) -> String {
        standardErrorOfRuns(name, starts: starts, in: logDirectory, lastLines: lastLines)
    }
}
