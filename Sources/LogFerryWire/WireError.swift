/// Everything that can go wrong decoding, inflating or sequencing ferry protocol data.
///
/// Every hostile or corrupt input maps to one of these ``Kind``s, never to a crash. The ``description`` is
/// written for an operator: what happened and what to do. ``label`` is a short stable name for a metric
/// dimension (e.g. `logferry_wire_errors_total{kind="crc_mismatch"}`).
public struct WireError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What went wrong.
    public enum Kind: Sendable, Hashable {
        /// A frame's length prefix exceeds the announced maximum; nothing was buffered.
        case frameTooLarge(length: UInt32, limit: UInt32)
        /// The input ended in the middle of a frame, a field or a batch body.
        case truncated
        /// The frame type byte is not one this version knows.
        case unknownFrameType(UInt8)
        /// A field holds an impossible value; the string says which.
        case malformed(String)
        /// The CRC32C of the compressed bytes does not match the declared one.
        case crcMismatch(declared: UInt32, actual: UInt32)
        /// The inflated size differs from the declared uncompressed size.
        case sizeMismatch(declared: UInt32, actual: UInt32)
        /// The compressed stream inflates beyond its declared size (a zip bomb, or corruption).
        case inflateLimitExceeded(limit: UInt32)
        /// The compressed stream stops before its end marker.
        case streamNotEnded
        /// Bytes follow the end of the compressed stream, of a frame body or of a batch body.
        case trailingData
        /// A batch declares more events than the limit allows.
        case tooManyEvents(count: UInt32, limit: UInt32)
        /// A batch declares an uncompressed size beyond the limit.
        case uncompressedTooLarge(size: UInt32, limit: UInt32)
        /// A single event is too large to fit any batch under the receiver's limits.
        case eventTooLarge(bytes: Int, limit: UInt32)
        /// A frame arrived that the protocol does not allow in the current state.
        case illegalFrame(state: String, frame: String)
        /// The peer speaks no protocol version in common with us.
        case unsupportedVersion(offered: String, supported: String)
        /// The zlib stream is corrupt (`Z_DATA_ERROR`, -3), memory ran out (`Z_MEM_ERROR`, -4), or the deflate
        /// library failed; the message names the library (zlib, libdeflate or isal) and what it saw.
        case zlib(code: Int32, message: String)
    }

    /// What went wrong.
    public var kind: Kind

    /// Creates an error of `kind`.
    public init(_ kind: Kind) {
        self.kind = kind
    }

    /// A short stable name of the kind, for metric labels and log keys.
    public var label: String {
        switch kind {
        case .frameTooLarge: "frame_too_large"
        case .truncated: "truncated"
        case .unknownFrameType: "unknown_frame_type"
        case .malformed: "malformed"
        case .crcMismatch: "crc_mismatch"
        case .sizeMismatch: "size_mismatch"
        case .inflateLimitExceeded: "inflate_limit_exceeded"
        case .streamNotEnded: "stream_not_ended"
        case .trailingData: "trailing_data"
        case .tooManyEvents: "too_many_events"
        case .uncompressedTooLarge: "uncompressed_too_large"
        case .eventTooLarge: "event_too_large"
        case .illegalFrame: "illegal_frame"
        case .unsupportedVersion: "unsupported_version"
        case .zlib: "zlib"
        }
    }

    /// The refusal a receiver sends back for this error when it concerns a batch.
    public var refusalCode: RefusalCode {
        switch kind {
        case .frameTooLarge, .tooManyEvents, .uncompressedTooLarge, .eventTooLarge: .tooLarge
        case .unsupportedVersion: .unsupportedVersion
        case .zlib(let code, _) where code == -4 /* Z_MEM_ERROR */: .internalError
        default: .malformed
        }
    }

    /// An operator-facing sentence: what happened and what to do about it.
    public var description: String {
        switch kind {
        case .frameTooLarge(let length, let limit):
            "frame of \(length) bytes exceeds the limit of \(limit) bytes; the peer is misconfigured or not speaking the ferry protocol (raise max_frame_bytes on the receiver, or check what is connecting)"
        case .truncated:
            "input ended in the middle of a frame or batch; the data is cut short or corrupt"
        case .unknownFrameType(let type):
            "unknown frame type \(type); the peer speaks a different protocol version or is not a LogFerry node"
        case .malformed(let what):
            "malformed data: \(what); the peer is buggy or the data is corrupt"
        case .crcMismatch(let declared, let actual):
            "batch checksum mismatch (declared CRC32C \(hex(declared)), computed \(hex(actual))); the batch was corrupted in storage or in transit"
        case .sizeMismatch(let declared, let actual):
            "batch inflates to \(actual) bytes but declares \(declared); the batch is corrupt"
        case .inflateLimitExceeded(let limit):
            "batch inflates beyond its declared \(limit) bytes (a zip bomb or corruption); inflation was stopped there"
        case .streamNotEnded:
            "compressed batch ends before the end of its zlib stream; the batch is truncated or corrupt"
        case .trailingData:
            "unexpected bytes after the end of a frame, batch body or zlib stream; the data is corrupt"
        case .tooManyEvents(let count, let limit):
            "batch declares \(count) events, more than the limit of \(limit); the sender must split it"
        case .uncompressedTooLarge(let size, let limit):
            "batch declares \(size) uncompressed bytes, more than the limit of \(limit); the sender must split it"
        case .eventTooLarge(let bytes, let limit):
            "a single event of \(bytes) bytes cannot fit the receiver's limit of \(limit) bytes; raise the receiver's limits or cap line length at the source"
        case .illegalFrame(let state, let frame):
            "protocol violation: \(frame) frame is not allowed while \(state); the peer is buggy, closing the connection"
        case .unsupportedVersion(let offered, let supported):
            "no common protocol version (peer: \(offered), ours: \(supported)); upgrade the older side"
        case .zlib(let code, let message) where code == -3:
            "corrupt zlib stream (\(message)); the batch was damaged in storage or in transit, or the sender's compressor is broken"
        case .zlib(let code, let message) where code == -4:
            "out of memory while compressing or inflating a batch (\(message)); give the process more memory or lower the batch limits"
        case .zlib(let code, let message):
            "zlib error \(code) (\(message))"
        }
    }
}

private func hex(_ value: UInt32) -> String {
    let digits = String(value, radix: 16)
    return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
}
