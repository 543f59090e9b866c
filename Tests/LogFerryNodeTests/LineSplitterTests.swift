import LogFerryTestSupport
import Testing
@testable import LogFerryNode

@Suite("LineSplitter")
struct LineSplitterTests {
    /// A line handed out, with where its `\n` ended (in the whole input) and whether it was cut.
    struct Line: Equatable, CustomStringConvertible {
        var text: String
        var cut: Bool
        /// Just after the line's `\n` in the whole input; nil for a flushed line.
        var end: Int?

        var description: String { "\(text.debugDescription)\(cut ? " cut" : "")@\(end.map(String.init) ?? "flush")" }
    }

    /// Feeds `input` in chunks of `chunkSize` bytes (all at once when nil), then flushes when `flush` is set.
    static func split(_ input: [UInt8], max: Int, chunkSize: Int? = nil, flush: Bool = true) -> [Line] {
        var splitter = LineSplitter(maxLineBytes: max)
        var lines: [Line] = []
        var position = 0
        let size = Swift.max(1, chunkSize ?? input.count)
        while position < input.count {
            let chunk = Array(input[position..<Swift.min(input.count, position + size)])
            let start = position
            let taken = chunk.withUnsafeBytes { bytes in
                splitter.feed(bytes) { line, cut, end in
                    lines.append(Line(text: String(decoding: line, as: UTF8.self), cut: cut, end: start + end))
                    return true
                }
            }
            #expect(taken == chunk.count)
            position += chunk.count
            // Everything fed but the unfinished line is settled: just after the last `\n` seen.
            let settled = input[..<position].lastIndex(of: 10).map { $0 + 1 } ?? 0
            #expect(position - splitter.heldBytes == settled, "after \(position) bytes")
        }
        if flush, let (line, cut) = splitter.flush() {
            lines.append(Line(text: String(decoding: line, as: UTF8.self), cut: cut, end: nil))
        }
        return lines
    }

    static func split(_ input: String, max: Int, chunkSize: Int? = nil, flush: Bool = true) -> [Line] {
        split(Array(input.utf8), max: max, chunkSize: chunkSize, flush: flush)
    }

    /// What the splitter must make of `input`, written the plain way: split at `\n`, drop a `\r` before it, cut what
    /// is longer than `max`.
    static func expected(_ input: [UInt8], max: Int) -> [Line] {
        var lines: [Line] = []
        var start = 0
        for (index, byte) in input.enumerated() where byte == 10 {
            var line = Array(input[start..<index])
            if line.last == 13 { line.removeLast() }
            lines.append(Line(text: String(decoding: line.prefix(max), as: UTF8.self), cut: line.count > max, end: index + 1))
            start = index + 1
        }
        if start < input.count {
            let line = input[start...]
            lines.append(Line(text: String(decoding: line.prefix(max), as: UTF8.self), cut: line.count > max, end: nil))
        }
        return lines
    }

    @Test("an over-long line in the middle: its first max bytes ship as one line, the rest up to the newline is discarded")
    func overLongInTheMiddle() {
        let input = "short\n" + String(repeating: "x", count: 50) + "\nafter\n"
        let want = [
            Line(text: "short", cut: false, end: 6),
            Line(text: "xxxxxxxx", cut: true, end: 57),
            Line(text: "after", cut: false, end: 63),
        ]
        for chunkSize in [nil, 1, 3, 7, 8, 9, 16] {
            #expect(Self.split(input, max: 8, chunkSize: chunkSize) == want, "chunks of \(String(describing: chunkSize))")
        }
    }

    @Test("an over-long line at the end of input: cut when its newline ends the input, and when it is flushed without one")
    func overLongAtTheEnd() {
        let long = "ab" + String(repeating: "y", count: 30)
        for chunkSize in [nil, 1, 5] {
            #expect(Self.split("a\n" + long + "\n", max: 4, chunkSize: chunkSize) == [
                Line(text: "a", cut: false, end: 2), Line(text: "abyy", cut: true, end: 35),
            ])
            #expect(Self.split("a\n" + long, max: 4, chunkSize: chunkSize) == [
                Line(text: "a", cut: false, end: 2), Line(text: "abyy", cut: true, end: nil),
            ])
        }
        // Without the flush nothing of it is handed out: its newline has not come.
        #expect(Self.split("a\n" + long, max: 4, flush: false) == [Line(text: "a", cut: false, end: 2)])
    }

    @Test("a line of exactly max bytes is whole, with LF or CRLF, and no empty line follows it")
    func exactlyMax() {
        for chunkSize in [nil, 1, 2, 5] {
            #expect(Self.split("abcd\nef\n", max: 4, chunkSize: chunkSize) == [
                Line(text: "abcd", cut: false, end: 5), Line(text: "ef", cut: false, end: 8),
            ])
            #expect(Self.split("abcd\r\nef\r\n", max: 4, chunkSize: chunkSize) == [
                Line(text: "abcd", cut: false, end: 6), Line(text: "ef", cut: false, end: 10),
            ])
            // One byte more is a cut, whether or not a `\r` follows it.
            #expect(Self.split("abcde\r\nf\n", max: 4, chunkSize: chunkSize) == [
                Line(text: "abcd", cut: true, end: 7), Line(text: "f", cut: false, end: 9),
            ])
        }
        #expect(Self.split("abcd", max: 4) == [Line(text: "abcd", cut: false, end: nil)])
    }

    @Test("CRLF: the \\r before \\n is dropped; any other \\r is part of the line")
    func carriageReturns() {
        for chunkSize in [nil, 1, 2] {
            #expect(Self.split("a\r\nb\rc\n\r\n\r\r\n", max: 16, chunkSize: chunkSize).map(\.text) == ["a", "b\rc", "", "\r"])
            // A `\r` past max bytes that is not followed by `\n` makes the line over-long.
            #expect(Self.split("abcd\rx\n", max: 4, chunkSize: chunkSize) == [Line(text: "abcd", cut: true, end: 7)])
            // A cut line keeps exactly its first max bytes, a `\r` among them included.
            #expect(Self.split("abc\rxyz\r\n", max: 4, chunkSize: chunkSize) == [Line(text: "abc\r", cut: true, end: 9)])
        }
        // Flushed, a last `\r` has no `\n` after it: it is content.
        #expect(Self.split("ab\r", max: 4) == [Line(text: "ab\r", cut: false, end: nil)])
        #expect(Self.split("abcd\r", max: 4) == [Line(text: "abcd", cut: true, end: nil)])
    }

    @Test("no trailing newline: the last line waits for flush(); a newline right after the flush ends it and is dropped")
    func noTrailingNewline() {
        #expect(Self.split("one\ntwo", max: 16) == [Line(text: "one", cut: false, end: 4), Line(text: "two", cut: false, end: nil)])
        #expect(Self.split("one\ntwo", max: 16, flush: false) == [Line(text: "one", cut: false, end: 4)])

        var splitter = LineSplitter(maxLineBytes: 16)
        var lines: [String] = []
        func feed(_ text: String) {
            _ = Array(text.utf8).withUnsafeBytes { bytes in
                splitter.feed(bytes) { line, _, _ in
                    lines.append(String(decoding: line, as: UTF8.self))
                    return true
                }
            }
        }
        feed("half")
        #expect(splitter.hasUnfinishedLine)
        #expect(splitter.unfinishedLineLength == 4)
        #expect(splitter.flush()?.line == Array("half".utf8))
        #expect(!splitter.hasUnfinishedLine)
        #expect(splitter.flush() == nil)
        feed("\nnext\n")
        #expect(lines == ["next"])
        // Only a newline right after the flush is dropped.
        feed("tail")
        _ = splitter.flush()
        feed("more\n\n")
        #expect(lines == ["next", "more", ""])
    }

    @Test("a refused line is not consumed: feeding the rest again hands it out unchanged")
    func refusal() {
        let input = Array(("a\n" + String(repeating: "z", count: 20) + "\nbb\r\ncc").utf8)
        var splitter = LineSplitter(maxLineBytes: 8)
        var lines: [Line] = []
        var position = 0
        var refuse = true
        while position < input.count {
            let chunk = Array(input[position..<min(input.count, position + 6)])
            let start = position
            let taken = chunk.withUnsafeBytes { bytes in
                splitter.feed(bytes) { line, cut, end in
                    // Refuse every other line once, as a full budget would.
                    refuse.toggle()
                    if !refuse { return false }
                    lines.append(Line(text: String(decoding: line, as: UTF8.self), cut: cut, end: start + end))
                    return true
                }
            }
            position += taken
        }
        if let (line, cut) = splitter.flush() { lines.append(Line(text: String(decoding: line, as: UTF8.self), cut: cut, end: nil)) }
        #expect(lines == Self.expected(input, max: 8))
    }

    @Test("any input, any chunking: the same lines as splitting it the plain way")
    func matchesPlainSplitting() {
        var random = SeededGenerator(seed: 0x5EED)
        for _ in 0..<400 {
            let alphabet: [UInt8] = [10, 13, 65, 66, 67]
            let input = (0..<Int.random(in: 0..<80, using: &random)).map { _ in alphabet.randomElement(using: &random)! }
            let max = Int.random(in: 1...9, using: &random)
            let want = Self.expected(input, max: max)
            let chunkSize = Int.random(in: 1...12, using: &random)
            #expect(Self.split(input, max: max, chunkSize: chunkSize) == want, "input \(input) max \(max) chunks \(chunkSize)")
        }
    }
}
