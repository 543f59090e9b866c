import Foundation
import LogFerryTestSupport
import LogFerryWire
import Testing
@testable import LogFerryNode

@Suite("File sink pieces")
struct FileSinkPieceTests {
    @Test("state round-trips; truncated state is an error")
    func stateRoundTrip() throws {
        var state = FileSinkState()
        state.files["h/a.log"] = .init(generation: 2, length: 12345)
        state.files["h/b.log"] = .init(generation: 0, length: 0)
        #expect(try FileSinkState(decoding: state.encoded()) == state)
        #expect(try FileSinkState(decoding: []) == FileSinkState())
        #expect(throws: (any Error).self) { try FileSinkState(decoding: Array(state.encoded().dropLast(3))) }
    }

    @Test("many dirty files on one file system are made durable together, a few one by one; both leave them clean")
    func syncTogether() throws {
        let directory = try TemporaryDirectory("sync-together")
        defer { directory.remove() }
        let files = try (0..<20).map { try OutputFile(path: directory.file("h\($0)/a.log")) }
        #expect(Set(files.map(\.device)).count == 1)
        for file in files { try file.write(Array("line\n".utf8)) }
        #expect(files.allSatisfy { $0.dirty })
        try OutputFile.sync(files, together: 16)   // 20 on one device: one syncfs
        #expect(files.allSatisfy { !$0.dirty })
        for file in files.prefix(3) { try file.write(Array("more\n".utf8)) }
        try OutputFile.sync(files, together: 16)   // 3 dirty: fdatasync each
        #expect(files.allSatisfy { !$0.dirty })
        for file in files { try file.close() }
        #expect(OutputFile.size(of: directory.file("h0/a.log")) == 10)
        #expect(OutputFile.size(of: directory.file("h19/a.log")) == 5)
    }

    @Test("durable output pages leave the page cache unless the sink keeps them",
          .enabled(if: PageCache.dropsPages(in: NSTemporaryDirectory()), "the temporary directory is on tmpfs, whose pages cannot be dropped"))
    func durablePagesDropped() throws {
        let directory = try TemporaryDirectory("drop-pages")
        defer { directory.remove() }
        let chunk = [UInt8](repeating: UInt8(ascii: "x"), count: 64 << 10)
        for keep in [false, true] {
            let path = directory.file(keep ? "h/kept.log" : "h/dropped.log")
            let file = try OutputFile(path: path, keepsPagesCached: keep)
            // More than one write-back chunk, so write-back has started before the commit.
            for _ in 0..<48 { try file.write(chunk) }
            #expect(try PageCache.residentPages(path) > 0)
            try OutputFile.sync([file])
            let resident = try PageCache.residentPages(path)
            if keep { #expect(resident == 48 * chunk.count / Int(getpagesize())) } else { #expect(resident == 0) }
            try file.close()
            #expect(OutputFile.size(of: path) == UInt64(48 * chunk.count))
        }
    }

    @Test("file-safe names")
    func fileSafe() {
        #expect(FileSinkWriter.outputName("/var/log/nginx/access.log") == "_var_log_nginx_access.log")
        #expect(FileSinkWriter.outputName("/var/log/my_app.log") == "_var_log_my%5Fapp.log")
        #expect(FileSinkWriter.outputName("stdin") == "stdin.log")
        #expect(OutputName.component("../../etc/passwd") == "%2E.%2F..%2Fetc%2Fpasswd")
        #expect(OutputName.component("..") == "%2E.")
        #expect(OutputName.component("") == "%")
        #expect(OutputName.component("héllo wörld") == "héllo%20wörld")
        #expect(OutputName.component("日本") == "日本")
        #expect(OutputName.component(String(repeating: "x", count: 500)).utf8.count <= OutputName.maxBytes)
        // One-to-one: the names that used to share a directory no longer do.
        let names = ["a_b", "a/b", #"a\0b"#, "a\u{0}b", "", "..", ".", "ééé", "日本", "%", "%25", "_", "a b", "a%20b",
                     String(repeating: "y", count: 300), String(repeating: "y", count: 301)]
        #expect(Set(names.map { OutputName.component($0) }).count == names.count)
        #expect(Set(names.map { OutputName.source($0) }).count == names.count)
        for name in names {
            let component = OutputName.component(name)
            #expect(!component.contains("/") && !component.hasPrefix(".") && !component.contains("\u{0}"))
        }
    }


    @Test("raw format escapes newlines, carriage returns and backslashes, one line per event")
    func rawFormat() {
        var out: [UInt8] = []
        let event = Event(timestamp: 0, source: "s", line: Array("a\\b\nc\rd".utf8))
        EventFormat.raw.append(event, host: "h", to: &out)
        #expect(String(decoding: out, as: UTF8.self) == "a\\\\b\\nc\\rd\n")
    }

    @Test("json format is valid JSON with every field")
    func jsonFormat() throws {
        var out: [UInt8] = []
        let event = Event(timestamp: 1_764_168_952_123_456_789, source: "/var/log/x.log", line: [0x61, 0x22, 0x0A, 0x01, 0xFF], fields: ["syslog.app": "sshd"])
        EventFormat.json.append(event, host: "edge-1", to: &out)
        #expect(out.last == 0x0A)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(out.dropLast())) as? [String: Any])
        #expect(object["host"] as? String == "edge-1")
        #expect(object["source"] as? String == "/var/log/x.log")
        #expect(object["line"] as? String == "a\"\n\u{01}\u{FFFD}")
        #expect(object["ts"] as? String == "2025-11-26T14:55:52.123456789Z")
        #expect((object["fields"] as? [String: String])?["syslog.app"] == "sshd")
    }
}
