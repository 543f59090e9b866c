import LogFerryTestSupport
import Testing
@testable import LogFerryNode

@Suite("Line filters and their regexes")
struct LineFilterTests {
    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    @Test("POSIX extended syntax, GNU \\s and \\w, anchors on the whole text, matched in place")
    func syntax() throws {
        let timestamp = try LineRegex("^[0-9]{4}-[0-9]{2}-[0-9]{2}T")
        #expect(timestamp.matches(Self.bytes("2026-11-30T12:00:00Z INFO x")))
        #expect(!timestamp.matches(Self.bytes("x 2026-11-30T12:00:00Z")))
        #expect(!timestamp.isPlainString)
        let indented = try LineRegex(#"^\s+at "#)
        #expect(indented.matches(Self.bytes("\tat com.example.A.b(A.java:1)")))
        #expect(!indented.matches(Self.bytes("Exception in thread")))
        let word = try LineRegex(#"user=\w+$"#)
        #expect(word.matches(Self.bytes("GET / user=alice")))
        // `^` is the start of the event only, also when it holds newlines.
        #expect(try !LineRegex("^at").matches(Self.bytes("Exception\nat x")))
        // Bounds come from the buffer, not a NUL: a match past the slice is not seen.
        let slice = Self.bytes("abc ERROR")
        for pattern in [try LineRegex("ERROR"), try LineRegex("E[R]ROR")] {
            #expect(!slice.withUnsafeBytes { pattern.matches(UnsafeRawBufferPointer(rebasing: $0[0..<4])) })
            #expect(slice.withUnsafeBytes { pattern.matches(UnsafeRawBufferPointer(rebasing: $0[0..<9])) })
        }
        #expect(try LineRegex("^$").matches([]))
        #expect(try !LineRegex("x").matches([]))
    }

    @Test("plain strings, ^anchored strings and alternations take the memchr+memcmp path and agree with regexec")
    func literalsAgreeWithRegexec() throws {
        var random = SeededGenerator(seed: 12)
        let alphabet = Array("abcAB -=".utf8)
        func text(_ count: Int) -> [UInt8] { (0..<count).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] } }
        for _ in 0..<300 {
            let alternatives = (0..<Int(1 + random.next() % 3)).map { _ in
                (random.next() % 4 == 0 ? "^" : "") + String(decoding: text(Int(1 + random.next() % 3)), as: UTF8.self)
            }
            let pattern = alternatives.joined(separator: "|")
            let fast = try LineRegex(pattern)
            #expect(fast.isPlainString, "\(pattern)")
            // The same alternatives grouped: not a plain string, so regexec decides.
            let slow = try LineRegex(alternatives.map { "(\($0))" }.joined(separator: "|"))
            #expect(!slow.isPlainString)
            for _ in 0..<20 {
                let line = text(Int(random.next() % 12))
                #expect(fast.matches(line) == slow.matches(line), "pattern \(pattern) on '\(String(decoding: line, as: UTF8.self))'")
            }
        }
    }

    @Test("a bad pattern is an error that says why")
    func badPattern() {
        for pattern in ["(unclosed", "[a-", "a{2,1}", "x\u{0}y"] {
            #expect(throws: LineRegexError.self, "\(pattern)") { try LineRegex(pattern) }
        }
        do {
            _ = try LineRegex("(unclosed")
            Issue.record("compiled")
        } catch {
            #expect(error.pattern == "(unclosed")
            #expect(error.description.contains("not a valid POSIX extended regular expression"))
            #expect(!error.reason.isEmpty)
        }
    }

    @Test("include keeps only matching lines, then exclude drops; no patterns keeps everything")
    func includeExclude() throws {
        let lines = ["GET /healthz 200", "GET /api 200", "POST /api 500", "DEBUG noise"].map(Self.bytes)
        #expect(LineFilter.none.keepsEverything)
        #expect(lines.allSatisfy { LineFilter.none.admits($0) })
        let filter = LineFilter(include: [try LineRegex("^GET"), try LineRegex(" 5[0-9]{2}$")], exclude: [try LineRegex("healthz")])
        #expect(lines.filter { filter.admits($0) } == [Self.bytes("GET /api 200"), Self.bytes("POST /api 500")])
        let excludeOnly = LineFilter(exclude: [try LineRegex("DEBUG|healthz")])
        #expect(lines.filter { excludeOnly.admits($0) }.count == 2)
    }
}
