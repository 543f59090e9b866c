import LogFerrySpool

/// What a file sink commits with its cursor: for every output file, its rotation generation and its length
/// at the committed sequence, and per origin what it has written (``OriginLedger``). After a crash the files
/// are cut back to these lengths before writing again, so a replayed record is written once; and a batch that
/// reaches the spool twice (through two relays, or replayed by a relay after a crash) is written once.
struct FileSinkState: Equatable, Sendable {
    /// One output file's committed shape.
    struct Entry: Equatable, Sendable {
        /// How many times the file has been rotated; the current file's predecessors are `NAME.1` ... `NAME.generation`.
        var generation: UInt32
        /// The committed length of the current file.
        var length: UInt64
        /// Set while the file is being renamed to `NAME.k` (written before the rename): recovery knows a
        /// rotation it finds was its own, and never mistakes someone else's `NAME.k` for one.
        var rotatingTo: UInt32? = nil
    }

    /// The first byte of the current encoding (a legacy state starts with a u32 count, so with 0).
    static let formatMarker: UInt8 = 0xFF
    static let formatVersion: UInt8 = 2

    /// Keyed by the path relative to the output directory.
    var files: [String: Entry] = [:]
    /// What has been written, per origin.
    var ledger = OriginLedger()

    init() {}

    /// Parses a committed state; empty bytes are the state of a new sink. The ledger follows the files (a
    /// state written before origins existed has none).
    init(decoding bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        var reader = ByteArrayReader(bytes, what: "file sink state")
        let current = bytes[0] == Self.formatMarker
        if current {
            let header = try reader.read(count: 2)
            guard header[1] == Self.formatVersion else {
                throw RecordMetadataError(reason: "file sink state format \(header[1]) is newer than this build")
            }
        }
        let count = try reader.readCount(minimumItemBytes: current ? 18 : 14)
        for _ in 0..<count {
            let pathLength = Int(try reader.read(UInt16.self))
            let path = String(decoding: try reader.read(count: pathLength), as: UTF8.self)
            let generation = try reader.read(UInt32.self)
            var entry = Entry(generation: generation, length: try reader.read(UInt64.self))
            if current {
                let rotating = try reader.read(UInt32.self)
                entry.rotatingTo = rotating == 0 ? nil : rotating
            }
            files[path] = entry
        }
        if reader.remaining > 0 {
            ledger = try OriginLedger(reading: &reader)
        }
    }

    /// The bytes committed with the cursor.
    func encoded() -> [UInt8] {
        var out: [UInt8] = [Self.formatMarker, Self.formatVersion]
        out.appendBigEndian(UInt32(files.count))
        for (path, entry) in files.sorted(by: { $0.key < $1.key }) {
            let utf8 = Array(path.utf8)
            out.appendBigEndian(UInt16(utf8.count))
            out.append(contentsOf: utf8)
            out.appendBigEndian(entry.generation)
            out.appendBigEndian(entry.length)
            out.appendBigEndian(entry.rotatingTo ?? 0)
        }
        out.append(contentsOf: ledger.snapshot())
        return out
    }
}
