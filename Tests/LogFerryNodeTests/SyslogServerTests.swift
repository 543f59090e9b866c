import Foundation
import LogFerryTestSupport
import Logging
import NIOCore
import Synchronization
import Testing
@testable import LogFerryNode

#if canImport(Glibc)
import Glibc
#endif

@Suite("SyslogServer")
struct SyslogServerTests {
    /// Runs util-linux `logger` and waits for it.
    func runLogger(_ arguments: [String]) throws -> ChildProcess.Exit {
        try ChildProcess("/usr/bin/logger", arguments).waitBlocking()
    }

    @Test("messages sent by logger over TCP and UDP, RFC 5424 and 3164, counted or not, arrive parsed")
    func realLogger() async throws {
        let server = try await SyslogServer(
            tcp: try SocketAddress(ipAddress: "127.0.0.1", port: 0),
            udp: try SocketAddress(ipAddress: "127.0.0.1", port: 0),
            logger: Logger(label: "test")
        )
        let tcpPort = try #require(server.tcpAddress?.port)
        let udpPort = try #require(server.udpAddress?.port)
        let received = LockedBox<[String: SyslogMessage]>([:])
        let sends: [(String, [String])] = [
            ("tcp-3164", ["--tcp", "--rfc3164"]),
            ("tcp-5424", ["--tcp", "--rfc5424", "--msgid", "M1"]),
            ("tcp-5424-counted", ["--tcp", "--rfc5424", "--octet-count"]),
            ("tcp-3164-counted", ["--tcp", "--rfc3164", "--octet-count"]),
            ("udp-3164", ["--udp", "--rfc3164"]),
            ("udp-5424", ["--udp", "--rfc5424"]),
        ]
        try await withThrowingTaskGroup { group in
            group.addTask {
                try await server.run { message in
                    let text = String(decoding: message.message, as: UTF8.self)
                    received.withLock { $0[text] = message }
                }
            }
            for (name, options) in sends {
                let port = options.contains("--udp") ? udpPort : tcpPort
                let status = try runLogger(
                    ["--server", "127.0.0.1", "--port", "\(port)", "-t", "lftest", "--id=4242"] + options + ["hello \(name)"]
                )
                #expect(status == .exited(0), "logger \(options)")
            }
            // Wait (bounded) for all to arrive; UDP on loopback does not drop at this rate.
            for _ in 0..<200 where received.withLock({ $0.count }) < sends.count {
                try await Task.sleep(for: .milliseconds(50))
            }
            group.cancelAll()
            try await group.waitForAll()
        }
        let host = systemHostName()
        let messages = received.withLock { $0 }
        for (name, options) in sends {
            let message = try #require(messages["hello \(name)"], "\(name) did not arrive")
            #expect(message.format == (options.contains("--rfc5424") ? .rfc5424 : .rfc3164), "\(name)")
            #expect(message.appName == "lftest", "\(name)")
            #expect(message.procID == "4242", "\(name)")
            #expect(message.facility == 1 && message.severity == 5, "\(name)")
            let parsedHost = try #require(message.hostName, "\(name)")
            #expect(host.hasPrefix(parsedHost), "\(name): \(parsedHost) vs \(host)")
            #expect(message.timestampNanos != nil, "\(name)")
            #expect(message.fields["syslog.app"] == "lftest")
        }
        #expect(messages["hello tcp-5424"]?.msgID == "M1")
    }

    @Test("a slow consumer holds the sender back and nothing is lost; a junk connection does not stop the others")
    func backpressureAndJunk() async throws {
        let server = try await SyslogServer(
            tcp: try SocketAddress(ipAddress: "127.0.0.1", port: 0),
            udp: nil,
            maxMessageBytes: 64,
            logger: Logger(label: "test")
        )
        let port = try #require(server.tcpAddress?.port)
        let count = 2000
        let received = LockedBox<[String]>([])
        try await withThrowingTaskGroup { group in
            group.addTask {
                try await server.run { message in
                    let text = String(decoding: message.message, as: UTF8.self)
                    if text.hasPrefix("n") && received.withLock({ $0.count }) % 100 == 0 {
                        try await Task.sleep(for: .milliseconds(5))  // a slow spool now and then
                    }
                    received.withLock { $0.append(text) }
                }
            }
            var junk = Array(repeating: UInt8(ascii: "9"), count: 5000)
            junk += (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
            try send(junk, to: port)
            let lines = (0..<count).map { "<13>Jan  1 00:00:00 h app: n\($0)\n" }.joined()
            try send(Array(lines.utf8), to: port)
            for _ in 0..<400 where received.withLock({ $0.filter { $0.hasPrefix("n") }.count }) < count {
                try await Task.sleep(for: .milliseconds(50))
            }
            group.cancelAll()
            try await group.waitForAll()
        }
        let numbered = received.withLock { $0.filter { $0.hasPrefix("n") } }
        #expect(numbered == (0..<count).map { "n\($0)" })
    }

    /// Writes `bytes` over a fresh TCP connection and closes it.
    func send(_ bytes: [UInt8], to port: Int) throws {
        let fd = try #require(connectTCP(port: port))
        defer { close(fd) }
        try writeAll(fd, bytes[...], path: "127.0.0.1:\(port)")
    }
}

/// A Sendable box around a Mutex, shareable between the server task and the test.
final class LockedBox<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>

    init(_ value: Value) { mutex = Mutex(value) }

    func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R { try mutex.withLock { try body(&$0) } }
}
