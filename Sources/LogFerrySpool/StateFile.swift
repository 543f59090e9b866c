import Glibc
import LogFerryBytes

/// A small checksummed file replaced atomically (Docs/SPOOL.md, "State files").
///
/// ```
/// offset size field
///      0    4 magic "LFST"
///      4    4 body length, UInt32 little-endian
///      8    4 CRC32C of bytes 0..<8 then the body, UInt32 little-endian
///     12    n body
/// ```
/// Written as temp file + fdatasync + rename + fsync of the directory, so a reader finds the old or the new
/// version, never a mix; the CRC catches damage made later.
enum StateFile {
    static let magic = Array("LFST".utf8)

    enum Contents: Equatable {
        case missing
        case corrupt(String)
        case body([UInt8])
    }

    static func encode(_ body: [UInt8]) -> [UInt8] {
        var out = magic
        out.reserveCapacity(12 + body.count)
        out.appendLittleEndian(UInt32(body.count))
        var crc = CRC32C.checksum(out)
        crc = CRC32C.checksum(body, continuing: crc)
        out.appendLittleEndian(crc)
        out.append(contentsOf: body)
        return out
    }

    static func decode(_ bytes: [UInt8]) -> Contents {
        guard bytes.count >= 12, Array(bytes[0..<4]) == magic else { return .corrupt("not a LogFerry state file") }
        let length = Int(bytes.readLittleEndian(UInt32.self, at: 4))
        guard bytes.count == 12 + length else {
            return .corrupt("length field says \(length) bytes, the file holds \(bytes.count - 12)")
        }
        var crc = CRC32C.checksum(bytes[0..<8])
        crc = CRC32C.checksum(bytes[12...], continuing: crc)
        guard crc == bytes.readLittleEndian(UInt32.self, at: 8) else { return .corrupt("CRC32C mismatch") }
        return .body(Array(bytes[12...]))
    }

    static func read(_ path: String) -> Contents {
        do {
            return decode(try POSIXFile.readWholeFile(path))
        } catch {
            if error.code == ENOENT { return .missing }
            return .corrupt(error.description)
        }
    }

    /// Replaces the file at `path` with `body`; with `durable`, the new version survives a power loss once
    /// this returns.
    static func write(_ body: [UInt8], to path: String, durable: Bool) throws(POSIXError) {
        let temporary = path + ".tmp"
        let fd = try POSIXFile.open(temporary, O_WRONLY | O_CREAT | O_TRUNC)
        do throws(POSIXError) {
            try POSIXFile.write(fd, encode(body), at: 0, path: temporary)
            if durable { try POSIXFile.dataSync(fd, path: temporary) }
        } catch {
            POSIXFile.close(fd)
            try? POSIXFile.unlink(temporary)
            throw error
        }
        POSIXFile.close(fd)
        try POSIXFile.rename(temporary, path)
        if durable { try POSIXFile.syncDirectory(directory(of: path)) }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

/// The body of `spool.meta`.
///
/// ```
/// offset size field (little-endian)
///      0    4 format version (1)
///      4   16 spool id
///     20    8 reserved through: no sequence above it has been handed out
///     28    8 dropped batches (as of the last write)
///     36    8 dropped bytes
///     44    8 gaps found (missing middle segments)
/// ```
struct SpoolMeta: Equatable {
    static let version: UInt32 = 1
    var spoolID: SpoolID
    var reservedThrough: UInt64
    var droppedBatches: UInt64 = 0
    var droppedBytes: UInt64 = 0
    var gaps: UInt64 = 0

    func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.appendLittleEndian(Self.version)
        out.append(contentsOf: spoolID.bytes)
        out.appendLittleEndian(reservedThrough)
        out.appendLittleEndian(droppedBatches)
        out.appendLittleEndian(droppedBytes)
        out.appendLittleEndian(gaps)
        return out
    }

    init(spoolID: SpoolID, reservedThrough: UInt64) {
        self.spoolID = spoolID
        self.reservedThrough = reservedThrough
    }

    init?(decoding body: [UInt8]) {
        guard body.count >= 52, body.readLittleEndian(UInt32.self, at: 0) == Self.version else { return nil }
        spoolID = SpoolID(uncheckedBytes: Array(body[4..<20]))
        reservedThrough = body.readLittleEndian(UInt64.self, at: 20)
        droppedBatches = body.readLittleEndian(UInt64.self, at: 28)
        droppedBytes = body.readLittleEndian(UInt64.self, at: 36)
        gaps = body.readLittleEndian(UInt64.self, at: 44)
    }
}

/// The body of a cursor file: the committed sequence (UInt64 little-endian) then the opaque sink state.
extension SpoolCursorPosition {
    func encoded() -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(8 + state.count)
        out.appendLittleEndian(committed)
        out.append(contentsOf: state)
        return out
    }

    init?(decoding body: [UInt8]) {
        guard body.count >= 8 else { return nil }
        self.init(committed: body.readLittleEndian(UInt64.self, at: 0), state: Array(body[8...]))
    }
}
