import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads standard output of `child` until a line starting with each prefix was seen; returns prefix → the rest of
/// the line. SIGKILLs the child and throws if it ends first or `timeout` passes.
public func awaitAnnouncements(
    _ child: LogFerryProcess,
    prefixes: [String],
    timeout: Duration
) async throws -> [String: String] {
    let watchdog = Task {
        try await Task.sleep(for: timeout)
        child.signal(SIGKILL)
    }
    defer { watchdog.cancel() }
    var found: [String: String] = [:]
    _ = await child.readLines(until: { _ in found.count == prefixes.count }, each: { line in
        for prefix in prefixes where line.hasPrefix(prefix) {
            found[prefix] = String(line.dropFirst(prefix.count))
        }
    })
    guard found.count == prefixes.count else {
        throw HarnessError("process \(child.pid) never announced \(prefixes) (timed out or exited); stderr:\n\(child.standardError.suffix(4000))")
    }
    return found
}

/// Sends SIGTERM (a graceful stop) and waits for the exit; after `timeout` the child is SIGKILLed and nil is
/// returned, so a child that ignores SIGTERM fails the test instead of hanging it.
public func stopGracefully(_ child: LogFerryProcess, timeout: Duration = .seconds(30)) async -> LogFerryProcess.Exit? {
    child.signal(SIGTERM)
    let timedOut = Flag()
    let watchdog = Task {
        try await Task.sleep(for: timeout)
        timedOut.set()
        child.signal(SIGKILL)
    }
    let exit = await child.wait()
    watchdog.cancel()
    return timedOut.isSet ? nil : exit
}

/// The paths of the files process `pid` holds open (from /proc).
public func openFiles(of pid: Int32) -> Set<String> {
    let directory = "/proc/\(pid)/fd"
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
    return Set(entries.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + $0) })
}

/// The host name the `logger` tool puts into its messages (`gethostname`).
public func systemHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
