/// A `logferry receive` child and the port it listens on.
public struct ReceiverProcess {
    /// The running receiver.
    public let process: LogFerryProcess
    /// The port it announced.
    public let port: Int

    /// Starts `logferry receive` on 127.0.0.1:`port` (0 picks one), with `arguments` added, and waits for
    /// `listening on HOST:PORT`.
    public static func start(
        spool: String,
        out: String,
        format: String = "raw",
        port: Int = 0,
        arguments: [String] = [],
        stderrPath: String,
        children: ChildProcesses
    ) async throws -> ReceiverProcess {
        let child = children.track(try LogFerryProcess(
            ["receive", "--listen", "127.0.0.1:\(port)", "--spool", spool, "--out", out, "--format", format] + arguments,
            stderrPath: stderrPath
        ))
        let line = try await awaitAnnouncements(child, prefixes: ["listening on "], timeout: .seconds(60))
        guard let announced = line["listening on "].flatMap(portOf) else {
            throw HarnessError("receiver announced no port: \(line)")
        }
        return ReceiverProcess(process: child, port: announced)
    }
}
