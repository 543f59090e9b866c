import CLogFerryPOSIX
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A child program started with `posix_spawn`, and waited for with `waitpid`.
///
/// The tests do not use Foundation's `Process`: swift-corelibs-foundation lists `/proc/self/fd` before every start
/// to close the parent's descriptors in the child, and copies each directory entry's whole 256-byte name out of
/// the directory buffer. With a few thousand descriptors open in the test process (the fan-in tests hold 1,000
/// spools and sockets), the last entry sits at the end of that buffer, the copy reads past it, and the test process
/// died with SIGSEGV inside `Process.run()`. It also raced when started from several threads at once. Here the child
/// closes every descriptor above standard error itself (`posix_spawn_file_actions_addclosefrom_np`), and nothing
/// is shared between starts, so any thread may start or wait for a child.
public final class ChildProcess: Sendable {
    /// How a child ended.
    public enum Exit: Equatable, Sendable {
        /// It exited with this status.
        case exited(Int32)
        /// A signal ended it.
        case signalled(Int32)
    }

    /// Where one of the child's standard streams goes.
    public enum Stream: Sendable {
        /// `/dev/null`.
        case null
        /// A file: read from for standard input; created or truncated and written for the outputs.
        case file(String)
        /// A pipe whose other end the test holds (``standardInput`` or ``standardOutput``).
        case pipe
        /// Standard error only: wherever standard output goes.
        case standardOutput
    }

    /// The process id.
    public let pid: Int32
    /// The write end of the child's standard input, when it is a ``Stream/pipe``; the test closes it.
    public let standardInput: Int32?
    /// The read end of the child's standard output, when it is a ``Stream/pipe``; the test closes it.
    public let standardOutput: Int32?
    private let exit = Mutex<Exit?>(nil)

    /// Starts `executable` (a path) with `arguments`, the test process's environment merged with `environment`,
    /// and the three standard streams as given.
    public init(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String] = [:],
        standardInput input: Stream = .null,
        standardOutput output: Stream = .null,
        standardError error: Stream = .null
    ) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        // Descriptors the parent closes once the child has its copies.
        var parentCloses: [Int32] = []
        defer { parentCloses.forEach { close($0) } }
        var inputWriter: Int32?
        var outputReader: Int32?
        do {
            switch input {
            case .null, .standardOutput:  // (standard input cannot follow standard output)
                try Self.check(posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0), "open /dev/null")
            case .file(let path):
                try Self.check(posix_spawn_file_actions_addopen(&actions, 0, path, O_RDONLY, 0), "open \(path)")
            case .pipe:
                let (reader, writer) = try Self.pipe()
                parentCloses.append(reader)
                inputWriter = writer
                try Self.check(posix_spawn_file_actions_adddup2(&actions, reader, 0), "dup2")
            }
            for (descriptor, stream) in [(Int32(1), output), (Int32(2), error)] {
                switch stream {
                case .null:
                    try Self.check(posix_spawn_file_actions_addopen(&actions, descriptor, "/dev/null", O_WRONLY, 0), "open /dev/null")
                case .file(let path):
                    let flags = O_WRONLY | O_CREAT | O_TRUNC
                    try Self.check(posix_spawn_file_actions_addopen(&actions, descriptor, path, flags, 0o644), "open \(path)")
                case .pipe where descriptor == 1:
                    let (reader, writer) = try Self.pipe()
                    parentCloses.append(writer)
                    outputReader = reader
                    try Self.check(posix_spawn_file_actions_adddup2(&actions, writer, 1), "dup2")
                case .standardOutput where descriptor == 2, .pipe:
                    // Standard error joins standard output (a pipe for standard error alone is not needed yet).
                    try Self.check(posix_spawn_file_actions_adddup2(&actions, 1, 2), "dup2")
                case .standardOutput:
                    throw HarnessError("standard output cannot go to standard output")
                }
            }
            try Self.check(logferry_spawn_closefrom(&actions, 3), "closefrom")
        } catch {
            [inputWriter, outputReader].compactMap { $0 }.forEach { close($0) }
            throw error
        }

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // Its own process group (as Foundation did), every signal at its default and none blocked: the test process's
        // threads may block or ignore some, and a child inherits both.
        var everySignal = sigset_t()
        var noSignal = sigset_t()
        sigfillset(&everySignal)
        sigemptyset(&noSignal)
        posix_spawnattr_setsigdefault(&attributes, &everySignal)
        posix_spawnattr_setsigmask(&attributes, &noSignal)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let mergedEnvironment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let envp = mergedEnvironment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv, envp)
        guard status == 0 else {
            [inputWriter, outputReader].compactMap { $0 }.forEach { close($0) }
            throw HarnessError("cannot start \(executable): \(String(cString: strerror(status)))")
        }
        self.pid = pid
        self.standardInput = inputWriter
        self.standardOutput = outputReader
    }

    /// How the child ended, or nil while it runs (reaps it once it has ended).
    public var exitStatus: Exit? {
        exit.withLock { exit in
            if exit == nil { exit = Self.reap(pid, blocking: false) }
            return exit
        }
    }

    /// Whether the child still runs.
    public var isRunning: Bool { exitStatus == nil }

    /// Sends `signal` if the child still runs (never to a pid that has been reaped and may be reused).
    public func signal(_ signal: Int32) {
        exit.withLock { exit in
            if exit == nil { exit = Self.reap(pid, blocking: false) }
            if exit == nil { kill(pid, signal) }
        }
    }

    /// Waits until the child has ended, without blocking a thread.
    public func wait() async -> Exit {
        while true {
            if let exit = exitStatus { return exit }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// Blocks the calling thread until the child has ended (for helpers that are synchronous anyway).
    public func waitBlocking() -> Exit {
        exit.withLock { exit in
            if let exit { return exit }
            let ended = Self.reap(pid, blocking: true) ?? .exited(-1)
            exit = ended
            return ended
        }
    }

    deinit {
        // A child nobody waited for is killed and reaped, so a failing test leaves neither a process nor a zombie.
        exit.withLock { exit in
            if exit == nil, Self.reap(pid, blocking: false) == nil {
                kill(pid, SIGKILL)
                _ = Self.reap(pid, blocking: true)
            }
        }
    }

    /// `waitpid` for one child: its exit once it has ended, nil while it runs (or when it is not our child).
    private static func reap(_ pid: Int32, blocking: Bool) -> Exit? {
        var status: Int32 = 0
        while true {
            let result = waitpid(pid, &status, blocking ? 0 : WNOHANG)
            if result == pid { break }
            if result == -1, errno == EINTR { continue }
            // Not ended yet, or no such child of ours any more (ECHILD): nothing to report.
            return result == 0 ? nil : .exited(-1)
        }
        let signal = status & 0x7F
        return signal == 0 ? .exited((status >> 8) & 0xFF) : .signalled(signal)
    }

    /// A pipe. (Another child started meanwhile does not keep its ends open: every child closes all descriptors
    /// above standard error.)
    private static func pipe() throws -> (reader: Int32, writer: Int32) {
        var ends: [Int32] = [-1, -1]
        guard Glibc.pipe(&ends) == 0 else {
            throw HarnessError("cannot create a pipe: \(String(cString: strerror(errno)))")
        }
        return (ends[0], ends[1])
    }

    private static func check(_ status: Int32, _ what: String) throws {
        guard status == 0 else { throw HarnessError("posix_spawn set-up (\(what)) failed: \(String(cString: strerror(status)))") }
    }
}
