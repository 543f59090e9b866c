/// A bounds-checked cursor over the bytes of a snapshot or a committed sink state: every read either
/// succeeds or throws, so a damaged state file is an error to report, never a crash.
struct ByteArrayReader {
    private let bytes: [UInt8]
    private(set) var offset = 0
    private let what: String

    /// Reads `bytes`; `what` names them in errors (e.g. "file sink state").
    init(_ bytes: [UInt8], what: String) {
        self.bytes = bytes
        self.what = what
    }

    /// Bytes not read yet.
    var remaining: Int { bytes.count - offset }

    /// Reads a big-endian integer.
    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(RecordMetadataError) -> T {
        let size = MemoryLayout<T>.size
        guard remaining >= size else { throw RecordMetadataError(reason: "\(what) is truncated at byte \(offset)") }
        defer { offset += size }
        return bytes.readBigEndian(T.self, at: offset)
    }

    /// Reads `count` bytes.
    mutating func read(count: Int) throws(RecordMetadataError) -> [UInt8] {
        guard count >= 0, remaining >= count else { throw RecordMetadataError(reason: "\(what) is truncated at byte \(offset)") }
        defer { offset += count }
        return Array(bytes[offset..<(offset + count)])
    }

    /// Reads a count of items that each take at least `minimumItemBytes`, refusing one the rest cannot hold.
    mutating func readCount(minimumItemBytes: Int) throws(RecordMetadataError) -> Int {
        let count = Int(try read(UInt32.self))
        guard count * max(minimumItemBytes, 1) <= remaining else {
            throw RecordMetadataError(reason: "\(what) announces \(count) entries its \(remaining) bytes cannot hold")
        }
        return count
    }
}
