import LogFerrySpool
import LogFerrySystemd
import LogFerryWire
import Testing
@testable import LogFerryNode

/// The journal source's pure pieces: the cursor in record metadata and its derived state, the event an entry
/// becomes, match checking.
@Suite("Journal source pieces")
struct JournalSourcePiecesTests {
    static let cursor = "s=425850d0c42b411c9d08b5ed92431e1a;i=2a;b=0123456789abcdef0123456789abcdef;m=bb8;t=60a24181e47d0;x=2360375174c7031f"

    @Test("the journal cursor survives the record metadata round trip next to the other entries")
    func metadataRoundTrip() throws {
        var metadata = RecordMetadata()
        metadata.journalCursor = Self.cursor
        metadata.sealedAt = 1234
        let decoded = try RecordMetadata(decoding: metadata.encoded())
        #expect(decoded.journalCursor == Self.cursor)
        #expect(decoded.sealedAt == 1234)
        #expect(decoded.fileCheckpoints == nil)
        // Stamping (what every append does) keeps it.
        let stamped = try RecordMetadata(decoding: RecordMetadata.stamped(metadata.encoded(), sealedBy: SpoolID.random()))
        #expect(stamped.journalCursor == Self.cursor)
        // Metadata without a cursor decodes without one.
        #expect(try RecordMetadata(decoding: RecordMetadata(fileCheckpoints: [1, 2]).encoded()).journalCursor == nil)
    }

    @Test("the derived cursor is the last one the records carry; records without one leave it; snapshots round-trip")
    func derivedState() throws {
        var state = JournalCursorState()
        #expect(state.cursor == nil)
        #expect(state.snapshot().isEmpty)
        var first = RecordMetadata()
        first.journalCursor = "first"
        var second = RecordMetadata()
        second.journalCursor = Self.cursor
        state.apply(first, sequence: 1)
        state.apply(RecordMetadata(fileCheckpoints: [9]), sequence: 2)
        #expect(state.cursor == "first")
        state.apply(second, sequence: 3)
        state.apply(RecordMetadata(), sequence: 4)
        #expect(state.cursor == Self.cursor)
        #expect(try JournalCursorState(snapshot: state.snapshot()) == state)
        #expect(try JournalCursorState(snapshot: []).cursor == nil)
        #expect(JournalCursorState.realtime(of: Self.cursor) == 0x60a24181e47d0)
        #expect(JournalCursorState.realtime(of: "garbage") == nil)
    }

    @Test("MESSAGE is the line; host, identifier, priority, unit, pid and the entry time are fields; long lines are cut")
    func eventMapping() {
        let entry = JournalEntry(
            cursor: Self.cursor,
            realtimeMicroseconds: 1_700_000_000_123_456,
            fields: [
                "MESSAGE": Array("hello\nworld".utf8), "_HOSTNAME": Array("web1".utf8), "SYSLOG_IDENTIFIER": Array("nginx".utf8),
                "PRIORITY": Array("3".utf8), "_SYSTEMD_UNIT": Array("nginx.service".utf8), "_PID": Array("4242".utf8),
            ]
        )
        let (event, cut) = JournalEventMapping.event(from: entry, readAt: 99, maxLineBytes: 100)
        #expect(!cut)
        #expect(event.line == Array("hello\nworld".utf8))
        #expect(event.source == "journal")
        #expect(event.timestamp == 99)
        #expect(event.fields == [
            "journal.hostname": "web1", "journal.identifier": "nginx", "journal.priority": "3",
            "journal.unit": "nginx.service", "journal.pid": "4242", "journal.timestamp": "2023-11-14T22:13:20.123456Z",
        ])
        let (short, wasCut) = JournalEventMapping.event(from: entry, readAt: 0, maxLineBytes: 5)
        #expect(wasCut)
        #expect(short.line == Array("hello".utf8))
        let bare = JournalEventMapping.event(from: JournalEntry(cursor: "c", realtimeMicroseconds: 0, fields: [:]), readAt: 0, maxLineBytes: 5).event
        #expect(bare.line.isEmpty)
        #expect(bare.fields == ["journal.timestamp": "1970-01-01T00:00:00.000000Z"])
    }

    @Test("matches are FIELD=VALUE with a field of capitals, digits and '_', or '+'")
    func matchForm() {
        for good in ["_SYSTEMD_UNIT=nginx.service", "PRIORITY=3", "MESSAGE=", "+", "A1_=x=y"] {
            #expect(JournalSourceConfiguration.problem(with: good) == nil, "\(good)")
        }
        for bad in ["unit=nginx", "=x", "PRIORITY", "", "PRI ORITY=3"] {
            #expect(JournalSourceConfiguration.problem(with: bad) != nil, "\(bad)")
        }
    }
}
