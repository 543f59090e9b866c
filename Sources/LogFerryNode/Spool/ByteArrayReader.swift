import LogFerryBytes

/// A bounds-checked cursor over the bytes of a snapshot or a committed sink state: the shared ``ByteReader``,
/// its errors as ``RecordMetadataError``s naming what is read, so a damaged state file is an error to report,
/// never a crash.
struct ByteArrayReader {
    private var reader: ByteReader<[UInt8]>
    private let what: String

    /// Reads `bytes`; `what` names them in errors (e.g. "file sink state").
    init(_ bytes: [UInt8], what: String) {
        reader = ByteReader(bytes)
        self.what = what
    }

    /// Bytes read so far.
    var offset: Int { reader.offset }

    /// Bytes not read yet.
    var remaining: Int { reader.remaining }

    /// Reads a big-endian integer.
    mutating func read<T: FixedWidthInteger>(_: T.Type) throws(RecordMetadataError) -> T {
        do { return try reader.readBigEndian(T.self) } catch { throw failure(error) }
    }

    /// Reads `count` bytes.
    mutating func read(count: Int) throws(RecordMetadataError) -> [UInt8] {
        do { return try reader.readBytes(count: count) } catch { throw failure(error) }
    }

    /// Reads a count of items that each take at least `minimumItemBytes`, refusing one the rest cannot hold.
    mutating func readCount(minimumItemBytes: Int) throws(RecordMetadataError) -> Int {
        let count = Int(try read(UInt32.self))
        guard count * max(minimumItemBytes, 1) <= remaining else {
            throw RecordMetadataError(reason: "\(what) announces \(count) entries its \(remaining) bytes cannot hold")
        }
        return count
    }

    /// `error` as the metadata error callers report, e.g. "file sink state is truncated at byte 12".
    private func failure(_ error: ByteDecodingError) -> RecordMetadataError {
        RecordMetadataError(reason: "\(what) is \(error)")
    }
}
