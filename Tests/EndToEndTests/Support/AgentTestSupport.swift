import Foundation
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A failure of the test harness itself (a child that never announced itself, a deadline passed), with what the
/// child said on standard error.
struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// SplitMix64: a small deterministic generator, so a failing randomized run can be replayed from its printed seed.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    /// The seed this generator started from.
    let seed: UInt64

    init(seed: UInt64) {
        self.seed = seed
        self.state = seed
    }

    /// A generator seeded from `$LOGFERRY_TEST_SEED` when set, else at random; the seed is printed with `label`.
    static func announced(_ label: String) -> SeededGenerator {
        let seed = ProcessInfo.processInfo.environment["LOGFERRY_TEST_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 0...UInt64.max)
        print("\(label): seed \(seed) (replay with LOGFERRY_TEST_SEED=\(seed))")
        return SeededGenerator(seed: seed)
    }

    /// The same, for the ferry chaos tests (seeded from `$LOGFERRY_CHAOS_SEED`).
    static func fromEnvironment(test: String) -> SeededGenerator {
        let seed = ProcessInfo.processInfo.environment["LOGFERRY_CHAOS_SEED"].flatMap { UInt64($0) }
            ?? UInt64.random(in: 1...UInt64.max)
        print("\(test): chaos seed \(seed) (replay with LOGFERRY_CHAOS_SEED=\(seed))")
        return SeededGenerator(seed: seed)
    }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Every child process of one test. `killAll()` (call it in a `defer`) leaves nothing running whatever path the
/// test took; `stopAll()` is the orderly end (SIGTERM, then SIGKILL after a grace period).
final class ChildProcesses: @unchecked Sendable {
    private let lock = NSLock()
    private var pids: [Int32] = []
    private var children: [LogFerryProcess] = []

    /// Remembers a `logferry` child.
    @discardableResult
    func track(_ child: LogFerryProcess) -> LogFerryProcess {
        lock.withLock {
            children.append(child)
            pids.append(child.pid)
        }
        return child
    }

    /// Remembers any other child by pid.
    func track(pid: Int32) {
        lock.withLock { pids.append(pid) }
    }

    /// SIGKILLs every child still alive and waits (briefly) until each is gone.
    func killAll() {
        let all = lock.withLock { pids }
        for pid in all where kill(pid, 0) == 0 { kill(pid, SIGKILL) }
        // Foundation's Process reaps its children on its own thread; give it a moment.
        for pid in all {
            var waited = 0
            while kill(pid, 0) == 0, waited < 200 {
                usleep(10_000)
                waited += 1
            }
        }
    }
}

/// A `logferry receive` child and the port it listens on.
struct ReceiverProcess {
    let process: LogFerryProcess
    let port: Int

    /// Starts `logferry receive` on 127.0.0.1:`port` (0 picks one) and waits for `listening on HOST:PORT`.
    static func start(
        spool: String,
        out: String,
        format: String = "raw",
        port: Int = 0,
        stderrPath: String,
        children: ChildProcesses
    ) async throws -> ReceiverProcess {
        let child = children.track(try LogFerryProcess(
            ["receive", "--listen", "127.0.0.1:\(port)", "--spool", spool, "--out", out, "--format", format],
            stderrPath: stderrPath
        ))
        let line = try await awaitAnnouncements(child, prefixes: ["listening on "], timeout: .seconds(60))
        guard let announced = line["listening on "].flatMap(portOf) else {
            throw HarnessError("receiver announced no port: \(line)")
        }
        return ReceiverProcess(process: child, port: announced)
    }
}

/// Reads standard output of `child` until a line starting with each prefix was seen; returns prefix → the rest of
/// the line. SIGKILLs the child and throws if it ends first or `timeout` passes.
func awaitAnnouncements(
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

/// The port of `HOST:PORT`.
func portOf(_ address: String) -> Int? {
    guard let colon = address.lastIndex(of: ":") else { return nil }
    return Int(address[address.index(after: colon)...].trimmingCharacters(in: .whitespaces))
}

/// A TCP port on 127.0.0.1 that was free a moment ago (bind port 0, read it, close).
func freeTCPPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw HarnessError("bind: \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A plain TCP connection to 127.0.0.1:`port` with a receive timeout, or nil when nothing listens.
func connectTCP(port: Int, receiveTimeoutSeconds: Int = 10) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        return nil
    }
    return fd
}

/// Sends `GET path` (HTTP/1.1) on the connection `fd` and reads one response: its body, or nil on error or
/// timeout. Reads exactly `Content-Length` bytes of body (or to end of stream without it).
func httpExchange(_ fd: Int32, path: String, keepAlive: Bool) -> String? {
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(keepAlive ? "" : "Connection: close\r\n")\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    let separator: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]
    while true {
        if let end = response.indices.dropLast(3).first(where: { Array(response[$0..<$0 + 4]) == separator }) {
            let head = String(decoding: response[..<end], as: UTF8.self).lowercased()
            let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
            if let length, response.count - (end + 4) >= length {
                return String(decoding: response[(end + 4)..<(end + 4 + length)], as: UTF8.self)
            }
        }
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0, errno == EINTR { continue }
        guard n > 0 else { break }
        response.append(contentsOf: buffer[0..<n])
    }
    guard let end = response.indices.dropLast(3).first(where: { Array(response[$0..<$0 + 4]) == separator }) else { return nil }
    return String(decoding: response[(end + 4)...], as: UTF8.self)
}

/// `GET path` on 127.0.0.1:`port` on a fresh connection that is closed afterwards; the body, or nil.
func httpGet(port: Int, path: String) -> String? {
    guard let fd = connectTCP(port: port) else { return nil }
    defer { close(fd) }
    return httpExchange(fd, path: path, keepAlive: false)
}

/// The sum of every sample of the Prometheus metric `name` (all label sets) in an exposition text.
func metricValue(_ exposition: String, _ name: String) -> Double? {
    var total: Double?
    for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
        guard line.hasPrefix(name) else { continue }
        let rest = line.dropFirst(name.count)
        guard rest.first == " " || rest.first == "{" else { continue }
        guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
        total = (total ?? 0) + value
    }
    return total
}

/// Polls `condition` every `interval` until it holds (true) or `timeout` passes (false). The deadline only turns a
/// hang into a failure; it is never what the test asserts.
func waitUntil(
    timeout: Duration,
    interval: Duration = .milliseconds(200),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: interval)
    }
}

/// What a receiver wrote under its `--out` directory.
enum ReceivedOutput {
    /// Every output file (recursively) as `host/name` → its bytes; the sink's own state (`.logferry/`) is not output.
    static func files(in out: String) -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        guard let enumerator = FileManager.default.enumerator(atPath: out) else { return result }
        while let relative = enumerator.nextObject() as? String {
            if relative.hasPrefix(".logferry") { continue }
            let path = out + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let data = FileManager.default.contents(atPath: path)
            else { continue }
            result[relative] = Array(data)
        }
        return result
    }

    /// The lines of every output file in raw format, unescaped (`\\`, `\n`, `\r`), by `host/name`.
    static func rawLines(in out: String) -> [String: [[UInt8]]] {
        files(in: out).mapValues { bytes in splitLines(bytes).map(unescape) }
    }

    /// The JSON objects of every output file in json format, by `host/name`.
    static func jsonEvents(in out: String) -> [String: [[String: Any]]] {
        files(in: out).mapValues { bytes in
            splitLines(bytes).compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
            }
        }
    }

    /// How many complete lines all output files hold together (cheap: counts newlines).
    static func lineCount(in out: String) -> Int {
        var count = 0
        for bytes in files(in: out).values {
            bytes.withUnsafeBufferPointer { buffer in
                for byte in buffer where byte == 0x0A { count += 1 }
            }
        }
        return count
    }

    /// The last complete line of the file whose name ends with `suffix` under `out/host`, or nil.
    static func lastLine(in out: String, host: String, nameSuffix suffix: String) -> [UInt8]? {
        let directory = out + "/" + host
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory),
            let name = names.first(where: { $0.hasSuffix(suffix) }),
            let handle = FileHandle(forReadingAtPath: directory + "/" + name)
        else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size > 0 else { return nil }
        let start = size > 8192 ? size - 8192 : 0
        try? handle.seek(toOffset: start)
        guard let data = try? handle.readToEnd() else { return nil }
        var bytes = Array(data)
        guard bytes.last == 0x0A else { return nil }
        bytes.removeLast()
        let from = bytes.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        return Array(bytes[from...])
    }

    /// Splits at `\n`; a last line without its newline is not complete and is left out.
    static func splitLines(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = 0
        for index in bytes.indices where bytes[index] == 0x0A {
            lines.append(Array(bytes[start..<index]))
            start = index + 1
        }
        return lines
    }

    /// Undoes the raw format's escaping.
    static func unescape(_ line: [UInt8]) -> [UInt8] {
        guard line.contains(0x5C) else { return line }
        var out: [UInt8] = []
        out.reserveCapacity(line.count)
        var index = 0
        while index < line.count {
            let byte = line[index]
            if byte == 0x5C, index + 1 < line.count {
                switch line[index + 1] {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                default: out.append(line[index + 1])
                }
                index += 2
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }
}

/// A non-`logferry` child (the `logger` tool, an agent fed through a stdin pipe or run as another user): its exit,
/// standard output and standard error.
final class ToolProcess: @unchecked Sendable {
    let process: Process
    private let stdinPipe: Pipe?
    let stdoutPath: String
    let stderrPath: String

    /// Starts `executable` with `arguments`; standard input is a pipe when `pipeStdin`, else `stdinFile` or nothing.
    init(
        _ executable: String,
        _ arguments: [String],
        pipeStdin: Bool = false,
        stdinFile: String? = nil,
        outputPrefix: String,
        children: ChildProcesses
    ) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        stdoutPath = outputPrefix + ".stdout"
        stderrPath = outputPrefix + ".stderr"
        _ = FileManager.default.createFile(atPath: stdoutPath, contents: nil)
        _ = FileManager.default.createFile(atPath: stderrPath, contents: nil)
        process.standardOutput = FileHandle(forWritingAtPath: stdoutPath)
        process.standardError = FileHandle(forWritingAtPath: stderrPath)
        if pipeStdin {
            let pipe = Pipe()
            process.standardInput = pipe
            stdinPipe = pipe
        } else if let stdinFile, let handle = FileHandle(forReadingAtPath: stdinFile) {
            process.standardInput = handle
            stdinPipe = nil
        } else {
            process.standardInput = FileHandle.nullDevice
            stdinPipe = nil
        }
        try process.run()
        self.process = process
        children.track(pid: process.processIdentifier)
    }

    /// Writes to the child's standard input (a pipe), from a background thread so a full pipe cannot block the
    /// test's executor; `close` closes it afterwards.
    func writeStdin(_ data: Data, close: Bool) async {
        guard let stdinPipe else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                stdinPipe.fileHandleForWriting.write(data)
                if close { try? stdinPipe.fileHandleForWriting.close() }
                continuation.resume()
            }
        }
    }

    /// Waits for the exit; SIGKILLs the child first when `timeout` passes. Returns the exit status, or nil when it
    /// was killed by a signal.
    func wait(timeout: Duration) async -> Int32? {
        let process = self.process
        let watchdog = Task {
            try await Task.sleep(for: timeout)
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        defer { watchdog.cancel() }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                process.waitUntilExit()
                continuation.resume()
            }
        }
        return process.terminationReason == .exit ? process.terminationStatus : nil
    }

    /// Sends a signal if the child still runs.
    func signal(_ signal: Int32) {
        if process.isRunning { kill(process.processIdentifier, signal) }
    }

    var standardOutput: String { (try? String(contentsOfFile: stdoutPath, encoding: .utf8)) ?? "" }
    var standardError: String { (try? String(contentsOfFile: stderrPath, encoding: .utf8)) ?? "" }

    /// Runs a tool to completion (with a deadline) and returns its exit status and both outputs.
    static func run(
        _ executable: String,
        _ arguments: [String],
        outputPrefix: String,
        children: ChildProcesses,
        timeout: Duration = .seconds(30)
    ) async throws -> (status: Int32?, stdout: String, stderr: String) {
        let tool = try ToolProcess(executable, arguments, outputPrefix: outputPrefix, children: children)
        let status = await tool.wait(timeout: timeout)
        return (status, tool.standardOutput, tool.standardError)
    }
}

/// The host name the `logger` tool puts into its messages (`gethostname`).
func systemHostName() -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count) == 0 else { return "" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// Appends `bytes` to the file at `path` (created when missing), in one `write` per call.
func appendToFile(_ path: String, _ bytes: [UInt8]) throws {
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw HarnessError("open \(path): errno \(errno)") }
    defer { close(fd) }
    try writeAll(fd, bytes[...], path: path)
}

/// Writes all of `bytes` to `fd`.
func writeAll(_ fd: Int32, _ bytes: ArraySlice<UInt8>, path: String) throws {
    var offset = bytes.startIndex
    while offset < bytes.endIndex {
        let n = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n < 0, errno == EINTR { continue }
        guard n > 0 else { throw HarnessError("write \(path): errno \(errno)") }
        offset += n
    }
}

/// The package root (the directory holding Package.swift), found from this file's path.
func packageRoot(_ file: String = #filePath) -> String {
    var url = URL(fileURLWithPath: file).deletingLastPathComponent()
    while url.path != "/" {
        if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url.path }
        url = url.deletingLastPathComponent()
    }
    return FileManager.default.currentDirectoryPath
}

/// Starts `logferry agent` with `arguments` plus its spool, upstream, origin host name and a short reconnect
/// backoff (so a receiver that comes back is found quickly).
func startAgent(
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

/// The lines of the output file for the tailed file named `name` (the file sink names outputs after the
/// file-safe source path, so it ends with `_<name>`, plus `.log` when the name lacks it; a source that is not a
/// path, such as `stdin`, is the whole name).
func outputLines(_ outputs: [String: [[UInt8]]], host: String, file name: String) -> [[UInt8]]? {
    let wanted = name.hasSuffix(".log") ? name : name + ".log"
    return outputs.first { $0.key == host + "/" + wanted || ($0.key.hasPrefix(host + "/") && $0.key.hasSuffix("_" + wanted)) }?.value
}

/// The paths of the files process `pid` holds open (from /proc).
func openFiles(of pid: Int32) -> Set<String> {
    let directory = "/proc/\(pid)/fd"
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
    return Set(entries.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: directory + "/" + $0) })
}

/// Sends SIGTERM (a graceful stop) and waits for the exit; after `timeout` the child is SIGKILLed and nil is
/// returned, so a child that ignores SIGTERM fails the test instead of hanging it.
func stopGracefully(_ child: LogFerryProcess, timeout: Duration = .seconds(30)) async -> LogFerryProcess.Exit? {
    child.signal(SIGTERM)
    let timedOut = ManagedFlag()
    let watchdog = Task {
        try await Task.sleep(for: timeout)
        timedOut.set()
        child.signal(SIGKILL)
    }
    let exit = await child.wait()
    watchdog.cancel()
    return timedOut.value ? nil : exit
}

/// A flag set from one task and read from another.
final class ManagedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var flag = false
    func set() { lock.withLock { flag = true } }
    var value: Bool { lock.withLock { flag } }
}
