/// Starts `logferry agent` with `arguments` plus its spool, upstream, origin host name and a short reconnect
/// backoff (so a receiver that comes back is found quickly), registered with `children`.
public func startAgent(
    _ arguments: [String],
    spool: String,
    port: Int,
    host: String,
    stderrPath: String,
    children: ChildProcesses
) throws -> LogFerryProcess {
    children.track(try LogFerryProcess(
        ["agent"] + arguments + ["--spool", spool, "--to", "127.0.0.1:\(port)", "--host-name", host, "--backoff-cap-ms", "1000"],
        stderrPath: stderrPath
    ))
}
