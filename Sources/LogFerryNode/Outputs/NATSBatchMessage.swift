import LogFerryNATS
import LogFerrySpool
import LogFerryWire

/// How a spool record travels through JetStream in the `batch` format, and how it is read back.
///
/// The payload is the batch's zlib stream exactly as the edge compressed it. Headers carry what the spool record
/// carries besides: the origin (spool id, origin sequence range, fragment), the event count, the uncompressed
/// size and the CRC32C, and, for people reading the stream, the host. The message id is the origin's spool id and
/// the events of which units it carries, so a resend of the same record after a reconnect or a crash has the same
/// id and JetStream's duplicate window drops it.
struct NATSBatchMessage {
    /// The header names.
    enum Header {
        static let format = "LogFerry-Format"
        static let origin = "LogFerry-Origin"
        static let originSpool = "LogFerry-Origin-Spool"
        static let sequence = "LogFerry-Sequence"
        static let part = "LogFerry-Part"
        static let host = "LogFerry-Host"
        static let events = "LogFerry-Events"
        static let uncompressedSize = "LogFerry-Uncompressed-Size"
        static let crc32c = "LogFerry-CRC32C"
    }

    /// The value of ``Header/format`` for this layout.
    static let formatVersion = "batch-1"

    /// The message id of a record covering `coverage`: `SPOOLID:FIRST-LAST:START+COUNT`.
    static func id(_ coverage: OriginCoverage) -> String {
        "\(coverage.origin):\(coverage.first)-\(coverage.last):\(coverage.fragmentStart)+\(coverage.eventCount)"
    }

    /// The message for a sealed batch of `host` covering `coverage`.
    static func make(_ sealed: SealedBatch, coverage: OriginCoverage, host: String, subject: String) -> NATSOutboundMessage {
        let origin = coverage.batchOrigin
        let part = origin.isFragment(eventCount: sealed.eventCount)
            ? "events \(coverage.fragmentStart)..<\(coverage.fragmentStart + sealed.eventCount) of \(coverage.unitEvents.first ?? 0)"
            : "whole"
        return NATSOutboundMessage(
            subject: subject,
            id: id(coverage),
            headers: [
                (Header.format, formatVersion),
                (Header.origin, hex(origin.encodedBytes())),
                (Header.originSpool, "\(coverage.origin)"),
                (Header.sequence, "\(coverage.first)-\(coverage.last)"),
                (Header.part, part),
                (Header.host, host),
                (Header.events, "\(sealed.eventCount)"),
                (Header.uncompressedSize, "\(sealed.uncompressedSize)"),
                (Header.crc32c, "\(sealed.crc32c)"),
            ],
            payload: sealed.compressed
        )
    }

    /// A batch message read back: the sealed batch and the origin it covers (not yet checked against its CRC).
    static func decode(headers: [String: String], payload: [UInt8]) throws(NATSBatchMessageError) -> (SealedBatch, OriginCoverage) {
        guard headers[Header.format] == formatVersion else {
            throw NATSBatchMessageError(reason: "no \(Header.format): \(formatVersion) header (an `events` message, or not from LogFerry)")
        }
        guard let eventText = headers[Header.events], let events = UInt32(eventText),
              let sizeText = headers[Header.uncompressedSize], let size = UInt32(sizeText),
              let crcText = headers[Header.crc32c], let crc = UInt32(crcText)
        else {
            throw NATSBatchMessageError(reason: "missing or malformed \(Header.events), \(Header.uncompressedSize) or \(Header.crc32c)")
        }
        guard let originText = headers[Header.origin], let originBytes = unhex(originText) else {
            throw NATSBatchMessageError(reason: "missing or malformed \(Header.origin)")
        }
        let origin: BatchOrigin
        do {
            origin = try BatchOrigin(decoding: originBytes)
            try origin.validate(eventCount: events)
        } catch {
            throw NATSBatchMessageError(reason: "\(Header.origin): \(error)")
        }
        guard let coverage = OriginCoverage(origin, eventCount: events) else {
            throw NATSBatchMessageError(reason: "\(Header.origin) has no 16-byte spool id")
        }
        return (SealedBatch(eventCount: events, uncompressedSize: size, crc32c: crc, compressed: payload), coverage)
    }

    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func unhex(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return digit - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}

/// A JetStream message that is not a LogFerry batch this version can read.
struct NATSBatchMessageError: Error, CustomStringConvertible {
    /// What is wrong with it.
    var reason: String
    /// An operator-facing description.
    var description: String { "not a readable LogFerry batch message: \(reason)" }
}
