import Foundation

/// Any `logferry` node without a listener to announce (e.g. `receive --nats-in`) that a test kills and starts
/// again on the same spool; run N writes its standard error to `<name>-<N>.stderr.log` in the log directory.
/// (``FerryNode`` is the one for nodes that listen; ``RestartableAgent`` for agents.)
public final class RestartableNode: @unchecked Sendable {
    /// A name for messages and log files.
    public let name: String
    /// The full arguments, subcommand first, passed to every start.
    public let arguments: [String]
    private let logDirectory: String
    private let children: ChildProcesses
    /// The current process, nil while the node is down.
    public private(set) var process: LogFerryProcess?
    /// How many times the node was started.
    public private(set) var starts = 0

    /// Prepares a node; `start()` runs it. Every process it starts is registered with `children`.
    public init(name: String, arguments: [String], logDirectory: String, children: ChildProcesses) {
        self.name = name
        self.arguments = arguments
        self.logDirectory = logDirectory
        self.children = children
    }

    /// Starts `logferry` with ``arguments``.
    public func start() throws {
        starts += 1
        process = children.track(try LogFerryProcess(arguments, stderrPath: standardErrorPath(name, run: starts, in: logDirectory)))
    }

    /// `kill -9` and reap.
    public func kill9() async {
        await process?.stop()
        process = nil
    }

    /// SIGTERM, and SIGKILL after 30 s.
    @discardableResult
    public func terminate() async -> LogFerryProcess.Exit? {
        guard let process else { return nil }
        let exit = await stopGracefully(process)
        self.process = nil
        return exit
    }

    /// How many lines of every run's standard error contain `text`.
    public func occurrences(of text: String) -> Int {
        (1...max(starts, 1)).reduce(0) { total, run in
            let log = FileManager.default.contents(atPath: standardErrorPath(name, run: run, in: logDirectory))
                .map { String(decoding: $0, as: UTF8.self) } ?? ""
            return total + log.split(separator: "\n").count { $0.contains(text) }
        }
    }

    /// Standard error of every run, concatenated, for failure messages.
    public func allStandardError(lastLines: Int = 40) -> String {
        standardErrorOfRuns(name, starts: starts, in: logDirectory, lastLines: lastLines)
    }
}
