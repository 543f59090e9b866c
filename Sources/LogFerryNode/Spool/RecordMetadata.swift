import Glibc
import LogFerrySpool
import LogFerryWire

/// What a node stores in the metadata area of each spool record, so that the spool is its own registry.
///
/// A relay stores where a batch came from (the upstream spool id, sequence and part), which rebuilds its
/// resume points after a crash; an agent stores the file offsets reached by the lines in the batch, which
/// rebuilds its file positions. The layout is a version byte then tag-length-value entries, so that a newer
/// node can add entries an older one skips.
struct RecordMetadata: Sendable, Hashable {
    /// Where a forwarded batch came from, when it arrived through a ferry listener.
    var upstream: UpstreamPosition?
    /// Opaque file checkpoints of a file source (encoded by the tailer), when the batch holds tailed lines.
    var fileCheckpoints: [UInt8]?
    /// Which origin batches the record holds, when another node sealed them (absent: this node is the
    /// origin and the record is its own whole batch).
    var origin: OriginCoverage?
    /// When this node stored the record (nanoseconds since the epoch): what `--replay-since` selects by.
    var sealedAt: UInt64?
    /// The spool id this node had when it sealed the record (its own batch): a copy of the spool that took a
    /// new id still ships the copied records under the original origin, so they deduplicate against it.
    var sealedBy: SpoolID?
    /// The journal cursor of the last entry in the batch, when the batch holds journal entries (journal source).
    var journalCursor: String?

    /// Creates metadata; every entry is optional.
    init(upstream: UpstreamPosition? = nil, fileCheckpoints: [UInt8]? = nil) {
        self.upstream = upstream
        self.fileCheckpoints = fileCheckpoints
    }

    init(upstream: UpstreamPosition?, origin: OriginCoverage?, sealedAt: UInt64? = RecordMetadata.now()) {
        self.upstream = upstream
        self.origin = origin
        self.sealedAt = sealedAt
    }

    /// Nanoseconds since the epoch.
    static func now() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return UInt64(max(0, spec.tv_sec)) &* 1_000_000_000 &+ UInt64(max(0, spec.tv_nsec))
    }

    /// `metadata` with the seal time (now) and the sealing spool id set: every source stamps its records so.
    static func stamped(_ metadata: [UInt8], sealedBy spoolID: SpoolID) -> [UInt8] {
        guard var decoded = try? RecordMetadata(decoding: metadata) else { return metadata }
        decoded.sealedAt = decoded.sealedAt ?? now()
        decoded.sealedBy = decoded.sealedBy ?? spoolID
        return decoded.encoded()
    }

    private static let version: UInt8 = 1
    private enum Tag: UInt8 {
        case upstream = 1
        case fileCheckpoints = 2
        case origin = 3
        case sealedAt = 4
        case sealedBy = 5
        /// Tag 12, not 6: leaves the next numbers to other entries being added at the same time.
        case journalCursor = 12
    }

    /// The bytes stored in the spool record.
    func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.version]
        if let upstream {
            var body: [UInt8] = upstream.spoolID.bytes
            body.appendBigEndian(upstream.sequence)
            body.appendBigEndian(upstream.part)
            body.appendBigEndian(upstream.partCount)
            Self.appendEntry(.upstream, body, to: &out)
        }
        if let fileCheckpoints {
            Self.appendEntry(.fileCheckpoints, fileCheckpoints, to: &out)
        }
        if let sealedAt {
            var body: [UInt8] = []
            body.appendBigEndian(sealedAt)
            Self.appendEntry(.sealedAt, body, to: &out)
        }
        if let sealedBy {
            Self.appendEntry(.sealedBy, sealedBy.bytes, to: &out)
        }
        if let journalCursor {
            Self.appendEntry(.journalCursor, Array(journalCursor.utf8), to: &out)
        }
        if let origin {
            var body: [UInt8] = []
            body.appendBigEndian(origin.eventCount)
            body.append(contentsOf: origin.batchOrigin.encodedBytes())
            Self.appendEntry(.origin, body, to: &out)
        }
        return out
    }

    /// Parses stored metadata. Empty metadata (a record written by a plain source) decodes to no entries;
    /// unknown tags are skipped; a malformed area is an error the caller counts and skips.
    init(decoding bytes: [UInt8]) throws(RecordMetadataError) {
        self.init()
        guard let first = bytes.first else { return }
        guard first == Self.version else { throw RecordMetadataError(reason: "unknown metadata version \(first)") }
        var index = 1
        while index < bytes.count {
            guard bytes.count - index >= 5 else { throw RecordMetadataError(reason: "truncated entry header") }
            let tag = bytes[index]
            let length = Int(bytes.readBigEndian(UInt32.self, at: index + 1))
            index += 5
            guard bytes.count - index >= length else { throw RecordMetadataError(reason: "entry of \(length) bytes overruns the area") }
            let body = Array(bytes[index..<(index + length)])
            index += length
            switch Tag(rawValue: tag) {
            case .upstream:
                guard body.count == 16 + 8 + 2 + 2, let id = SpoolID(bytes: Array(body[0..<16])) else {
                    throw RecordMetadataError(reason: "upstream entry of \(body.count) bytes")
                }
                self.upstream = UpstreamPosition(
                    spoolID: id,
                    sequence: body.readBigEndian(UInt64.self, at: 16),
                    part: body.readBigEndian(UInt16.self, at: 24),
                    partCount: body.readBigEndian(UInt16.self, at: 26)
                )
            case .fileCheckpoints:
                self.fileCheckpoints = body
            case .sealedBy:
                guard let id = SpoolID(bytes: body) else { throw RecordMetadataError(reason: "sealed-by entry of \(body.count) bytes") }
                self.sealedBy = id
            case .sealedAt:
                guard body.count == 8 else { throw RecordMetadataError(reason: "seal time entry of \(body.count) bytes") }
                self.sealedAt = body.readBigEndian(UInt64.self, at: 0)
            case .origin:
                guard body.count >= 4 else { throw RecordMetadataError(reason: "origin entry of \(body.count) bytes") }
                let eventCount = body.readBigEndian(UInt32.self, at: 0)
                let origin: BatchOrigin
                do {
                    origin = try BatchOrigin(decoding: Array(body[4...]))
                    try origin.validate(eventCount: eventCount)
                } catch {
                    throw RecordMetadataError(reason: "origin entry: \(error)")
                }
                guard let coverage = OriginCoverage(origin, eventCount: eventCount) else {
                    throw RecordMetadataError(reason: "origin entry without a 16-byte spool id")
                }
                self.origin = coverage
            case .journalCursor:
                self.journalCursor = String(decoding: body, as: UTF8.self)
            case nil:
                continue
            }
        }
    }

    private static func appendEntry(_ tag: Tag, _ body: [UInt8], to out: inout [UInt8]) {
        out.append(tag.rawValue)
        out.appendBigEndian(UInt32(body.count))
        out.append(contentsOf: body)
    }
}

/// Metadata that does not parse; the record's batch is still delivered, only its bookkeeping is skipped.
struct RecordMetadataError: Error, CustomStringConvertible, Sendable {
    /// What was wrong.
    var reason: String
    /// An operator-facing description.
    var description: String { "spool record metadata is malformed (\(reason)); the batch is kept, its bookkeeping skipped" }
}

/// A position in an upstream spool: the batch `sequence` of the spool `spoolID`, and which part of it when the
/// batch was split because it was too large for this hop (`partCount` 1 when whole).
struct UpstreamPosition: Sendable, Hashable {
    /// The upstream spool.
    var spoolID: SpoolID
    /// The upstream batch sequence.
    var sequence: UInt64
    /// Which part (0-based) of a split batch this is; 0 for a whole batch.
    var part: UInt16
    /// How many parts the batch was split into; 1 for a whole batch.
    var partCount: UInt16

    /// Creates a position.
    init(spoolID: SpoolID, sequence: UInt64, part: UInt16 = 0, partCount: UInt16 = 1) {
        self.spoolID = spoolID
        self.sequence = sequence
        self.part = part
        self.partCount = max(partCount, 1)
    }

    /// Whether this is the last (or only) part of its batch, so the whole batch is stored once this is.
    var completesBatch: Bool { part + 1 >= partCount }
}
