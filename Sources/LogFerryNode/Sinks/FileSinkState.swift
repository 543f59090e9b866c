/// What a file sink commits with its cursor: for every output file, its rotation generation and its length
/// at the committed sequence. After a crash the files are cut back to these lengths before writing again,
/// so a replayed batch is written once.
struct FileSinkState: Equatable, Sendable {
    /// One output file's committed shape.
    struct Entry: Equatable, Sendable {
        /// How many times the file has been rotated; the current file's predecessors are `NAME.1` ... `NAME.generation`.
        var generation: UInt32
        /// The committed length of the current file.
        var length: UInt64
    }

    /// Keyed by the path relative to the output directory.
    var files: [String: Entry] = [:]

    init() {}

    /// Parses a committed state; empty bytes are the state of a new sink.
    init(decoding bytes: [UInt8]) throws {
        guard !bytes.isEmpty else { return }
        var index = 0
        func take(_ count: Int) throws -> ArraySlice<UInt8> {
            guard bytes.count - index >= count else { throw RecordMetadataError(reason: "file sink state is truncated") }
            defer { index += count }
            return bytes[index..<(index + count)]
        }
        let count = Array(try take(4)).readBigEndian(UInt32.self, at: 0)
        for _ in 0..<count {
            let pathLength = Int(Array(try take(2)).readBigEndian(UInt16.self, at: 0))
            let path = String(decoding: try take(pathLength), as: UTF8.self)
            let fixed = Array(try take(12))
            files[path] = Entry(generation: fixed.readBigEndian(UInt32.self, at: 0), length: fixed.readBigEndian(UInt64.self, at: 4))
        }
    }

    /// The bytes committed with the cursor.
    func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.appendBigEndian(UInt32(files.count))
        for (path, entry) in files.sorted(by: { $0.key < $1.key }) {
            let utf8 = Array(path.utf8)
            out.appendBigEndian(UInt16(utf8.count))
            out.append(contentsOf: utf8)
            out.appendBigEndian(entry.generation)
            out.appendBigEndian(entry.length)
        }
        return out
    }
}
