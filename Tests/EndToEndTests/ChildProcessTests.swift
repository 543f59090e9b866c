import Foundation
import LogFerryNode
import LogFerryTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The harness's own child processes (``ChildProcess``): every end-to-end test stands on them. Foundation's
/// `Process` crashed the test process once it held thousands of descriptors (the fan-in tests hold 1,000 spools
/// and sockets) while other suites started children.
@Suite("Child processes of the tests")
struct ChildProcessTests {
    @Test("20 children started at once while the test process holds 3,000 descriptors: each starts, and inherits none of them")
    func manyDescriptors() async throws {
        FileDescriptorLimit.raiseToHard()
        let directory = try TemporaryDirectory("child-process")
        defer { directory.remove() }
        // Plain open(2), without close-on-exec: a child would inherit every one of them unless it closes them.
        var held: [Int32] = []
        defer { held.forEach { close($0) } }
        for _ in 0..<3_000 {
            let descriptor = open("/dev/null", O_RDONLY)
            guard descriptor >= 0 else { break }
            held.append(descriptor)
        }
        #expect(held.count == 3_000, "could open only \(held.count) descriptors")
        let listings = try await withThrowingTaskGroup(of: (Int, ChildProcess.Exit, [String]).self) { group in
            for index in 0..<20 {
                let output = directory.file("fd-\(index)")
                group.addTask {
                    // `ls` lists its own descriptors: 0, 1, 2 and the one it reads the directory with.
                    let child = try ChildProcess("/bin/ls", ["/proc/self/fd"], standardOutput: .file(output))
                    let exit = await child.wait()
                    let names = try String(contentsOfFile: output, encoding: .utf8).split(separator: "\n").map(String.init)
                    return (index, exit, names)
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(listings.count == 20)
        for (index, exit, names) in listings {
            #expect(exit == .exited(0), "child \(index) ended \(exit)")
            let inherited = names.compactMap(Int.init).filter { $0 > 3 }
            #expect(names.count <= 4 && inherited.isEmpty, "child \(index) has descriptors \(names)")
        }
    }

    @Test("standard input through a pipe and standard error into standard output; exit status and signals are reported")
    func streamsAndExits() async throws {
        let echo = try ChildProcess("/bin/sh", ["-c", "cat; echo to-stderr >&2; exit 3"],
                                    standardInput: .pipe, standardOutput: .pipe, standardError: .standardOutput)
        let input = try #require(echo.standardInput)
        let output = try #require(echo.standardOutput)
        defer { close(output) }
        try writeAll(input, Array("from-stdin\n".utf8)[...], path: "the child's standard input")
        close(input)
        var bytes: [UInt8] = []
        while case let chunk = readRetryingInterrupts(output), !chunk.isEmpty { bytes += chunk }
        #expect(String(decoding: bytes, as: UTF8.self) == "from-stdin\nto-stderr\n")
        #expect(await echo.wait() == .exited(3))

        let sleeper = try ChildProcess("/bin/sleep", ["30"])
        #expect(sleeper.isRunning)
        sleeper.signal(SIGKILL)
        #expect(await sleeper.wait() == .signalled(SIGKILL))
        #expect(!sleeper.isRunning)
        // Signalling a child that has been reaped does nothing (its pid may belong to another process by now).
        sleeper.signal(SIGKILL)
        #expect(sleeper.waitBlocking() == .signalled(SIGKILL))
    }
}
