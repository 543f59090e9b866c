import Testing
@testable import LogFerryNode

@Suite("Multi-line events: the assembler")
struct MultilineAssemblerTests {
    /// Feeds `lines` (each followed by `\n` in an imagined file starting at 0); returns the events sealed and the
    /// assembler, which may still hold the last one.
    static func feed(
        _ lines: [String],
        _ configuration: MultilineConfiguration
    ) -> (events: [MultilineAssembler.Event], assembler: MultilineAssembler) {
        var assembler = MultilineAssembler(configuration: configuration)
        var events: [MultilineAssembler.Event] = []
        var offset: UInt64 = 0
        let now = ContinuousClock.now
        for line in lines {
            let end = offset + UInt64(line.utf8.count) + 1
            if let event = assembler.add(Array(line.utf8), start: offset, end: end, truncated: false, at: now) {
                events.append(event)
            }
            offset = end
        }
        return (events, assembler)
    }

    static let javaTrace = [
        "2026-11-30 12:00:00 INFO starting",
        "Exception in thread \"main\" java.lang.IllegalStateException: boom",
        "\tat com.example.Service.handle(Service.java:42)",
        "\tat com.example.Main.main(Main.java:7)",
        "Caused by: java.io.IOException: disk",
        "\tat com.example.Disk.write(Disk.java:9)",
        "\t... 2 more",
        "2026-11-30 12:00:01 INFO next",
    ]

    @Test("start rule: a matching line starts an event, the others are appended; offsets follow the lines")
    func startRule() throws {
        let rule = MultilineConfiguration.Rule.start(try LineRegex("^(Exception|[0-9]{4}-)"))
        var (events, assembler) = Self.feed(Self.javaTrace, MultilineConfiguration(rule: rule))
        #expect(events.map { String(decoding: $0.bytes, as: UTF8.self) } == [
            Self.javaTrace[0],
            Self.javaTrace[1...6].joined(separator: "\n"),
        ])
        let firstLength = UInt64(Self.javaTrace[0].utf8.count + 1)
        #expect(events[0].endOffset == firstLength)
        let traceEnd = Self.javaTrace[0...6].reduce(0) { $0 + UInt64($1.utf8.count + 1) }
        #expect(events[1].endOffset == traceEnd)
        // The last line is the unfinished event: a checkpoint stays at its start.
        #expect(assembler.pendingStart == traceEnd)
        let flushed = assembler.flush()
        let last = try #require(flushed)
        #expect(String(decoding: last.bytes, as: UTF8.self) == Self.javaTrace[7])
        #expect(!assembler.hasPendingEvent)
        #expect(events.allSatisfy { !$0.truncated })
    }

    @Test("continue rule: matching lines join the event before them")
    func continueRule() throws {
        let rule = MultilineConfiguration.Rule.continuation(try LineRegex(#"^(\s|Caused by:)"#))
        let (events, assembler) = Self.feed(Self.javaTrace, MultilineConfiguration(rule: rule))
        #expect(events.map { String(decoding: $0.bytes, as: UTF8.self) } == [
            Self.javaTrace[0],
            Self.javaTrace[1...6].joined(separator: "\n"),
        ])
        #expect(assembler.hasPendingEvent)
        #expect(assembler.pendingBytes == Self.javaTrace[7].utf8.count)
    }

    @Test("lines before the first start line form an event of their own")
    func leadingContinuations() throws {
        let rule = MultilineConfiguration.Rule.start(try LineRegex("^START"))
        var (events, assembler) = Self.feed(["  orphan 1", "  orphan 2", "START a", "  a1"], MultilineConfiguration(rule: rule))
        #expect(events.map { String(decoding: $0.bytes, as: UTF8.self) } == ["  orphan 1\n  orphan 2"])
        #expect(assembler.pendingStart == 22)
        let flushed = assembler.flush()
        #expect(flushed.map { String(decoding: $0.bytes, as: UTF8.self) } == "START a\n  a1")
    }

    @Test("an event past max-bytes is cut there and marked; its later lines are read but dropped")
    func maxBytes() throws {
        let rule = MultilineConfiguration.Rule.start(try LineRegex("^E"))
        let lines = ["E 1", "  aaaa", "  bbbb", "  cccc", "E 2"]
        let (events, assembler) = Self.feed(lines, MultilineConfiguration(rule: rule, maxBytes: 10))
        #expect(events.count == 1)
        #expect(String(decoding: events[0].bytes, as: UTF8.self) == "E 1\n  aaaa")
        #expect(events[0].bytes.count == 10)
        #expect(events[0].truncated && events[0].cutAtMaxBytes)
        // The dropped lines are behind the event's end offset: not read again.
        #expect(events[0].endOffset == UInt64(lines[0..<4].reduce(0) { $0 + $1.utf8.count + 1 }))
        #expect(assembler.pendingStart == events[0].endOffset)
    }

    @Test("a cut exactly at a line boundary leaves no dangling newline")
    func cutAtBoundary() throws {
        let rule = MultilineConfiguration.Rule.start(try LineRegex("^E"))
        var (_, assembler) = Self.feed(["E 12", "  next"], MultilineConfiguration(rule: rule, maxBytes: 5))
        let flushed = assembler.flush()
        let event = try #require(flushed)
        #expect(String(decoding: event.bytes, as: UTF8.self) == "E 12")
        #expect(event.cutAtMaxBytes)
    }

    @Test("the flush deadline runs from the last line; discard forgets the event")
    func deadlineAndDiscard() throws {
        let rule = MultilineConfiguration.Rule.start(try LineRegex("^E"))
        var assembler = MultilineAssembler(configuration: MultilineConfiguration(rule: rule, timeout: .seconds(2)))
        #expect(assembler.flushDeadline == nil)
        let t0 = ContinuousClock.now
        _ = assembler.add(Array("E 1".utf8), start: 100, end: 104, truncated: false, at: t0)
        _ = assembler.add(Array("  x".utf8), start: 104, end: 108, truncated: true, at: t0 + .seconds(1))
        #expect(assembler.flushDeadline == t0 + .seconds(3))
        #expect(assembler.pendingStart == 100)
        assembler.discard()
        let nothing = assembler.flush()
        #expect(!assembler.hasPendingEvent && assembler.flushDeadline == nil && nothing == nil)
        // A line cut by max-line-bytes marks its event truncated (not cut at max-bytes).
        _ = assembler.add(Array("E 2".utf8), start: 108, end: 112, truncated: true, at: t0)
        let last = assembler.flush()
        let event = try #require(last)
        #expect(event.truncated && !event.cutAtMaxBytes && event.endOffset == 112)
    }
}
