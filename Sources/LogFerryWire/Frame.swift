/// One message of the ferry protocol.
///
/// On the wire every frame is a big-endian u32 length (of the type byte and the body), a u8 type and the
/// body; Docs/PROTOCOL.md gives the byte layout of each. ``FrameEncoder`` and ``FrameDecoder`` move frames
/// through a NIO pipeline; ``ServerProtocolState`` and ``ClientProtocolState`` say which frame is legal when.
public enum Frame: Sendable, Hashable {
    /// Server → client, first: versions, a fresh nonce for the auth proof, and the server's limits.
    case serverHello(ServerHello)
    /// Client → server, in answer to the hello: chosen version, spool id, host name, auth proof.
    case clientHello(ClientHello)
    /// Server → client: the handshake succeeded; where to resume.
    case welcome(Welcome)
    /// Client → server: one sealed batch (or one part of a split batch).
    case batch(BatchFrame)
    /// Server → client, cumulative: every batch up to and including this sequence is durable.
    case ack(UInt64)
    /// Server → client: a batch or the handshake was refused, with a code saying what to do.
    case refuse(Refusal)
    /// Either way: the sender is alive. Carries no progress; see Docs/PROTOCOL.md §Liveness.
    case heartbeat
    /// Server → client (or client → server on a clean shutdown): the sender is going away; the reason says why.
    case bye(String)

    /// The type byte of each frame on the wire.
    public enum Kind: UInt8, Sendable, Hashable, CaseIterable {
        case serverHello = 1
        case clientHello = 2
        case welcome = 3
        case batch = 4
        case ack = 5
        case refuse = 6
        case heartbeat = 7
        case bye = 8
    }

    /// The type of this frame.
    public var kind: Kind {
        switch self {
        case .serverHello: .serverHello
        case .clientHello: .clientHello
        case .welcome: .welcome
        case .batch: .batch
        case .ack: .ack
        case .refuse: .refuse
        case .heartbeat: .heartbeat
        case .bye: .bye
        }
    }
}

extension Frame.Kind: CustomStringConvertible {
    /// The frame's name as Docs/PROTOCOL.md spells it, e.g. `client-hello`.
    public var description: String {
        switch self {
        case .serverHello: "server-hello"
        case .clientHello: "client-hello"
        case .welcome: "welcome"
        case .batch: "batch"
        case .ack: "ack"
        case .refuse: "refuse"
        case .heartbeat: "heartbeat"
        case .bye: "bye"
        }
    }
}

/// The server's opening frame.
public struct ServerHello: Sendable, Hashable {
    /// The length of ``nonce``.
    public static let nonceSize = 32

    /// The lowest protocol version the server speaks.
    public var versionMin: UInt16
    /// The highest protocol version the server speaks.
    public var versionMax: UInt16
    /// 32 fresh random bytes the client's auth proof covers, so a proof cannot be replayed.
    public var nonce: [UInt8]
    /// The limits the server enforces; the client splits batches to fit them.
    public var limits: WireLimits

    /// Creates a hello from its parts.
    public init(versionMin: UInt16, versionMax: UInt16, nonce: [UInt8], limits: WireLimits) {
        self.versionMin = versionMin
        self.versionMax = versionMax
        self.nonce = nonce
        self.limits = limits
    }

    /// The versions the server speaks.
    public var versions: ClosedRange<UInt16> { versionMin...max(versionMin, versionMax) }
}

/// The client's answer to the server hello.
public struct ClientHello: Sendable, Hashable {
    /// The length of ``spoolID``.
    public static let spoolIDSize = 16
    /// The length of a non-empty ``proof`` (an HMAC-SHA256).
    public static let proofSize = 32

    /// The protocol version the client chose from the server's range.
    public var version: UInt16
    /// The 16-byte id of the client's spool; with a sequence it names a batch forever.
    public var spoolID: [UInt8]
    /// The client's host name, for logs and the auth proof.
    public var hostName: String
    /// Empty, or HMAC-SHA256(key, nonce ‖ spool id ‖ host name) when a shared key is configured.
    public var proof: [UInt8]

    /// Creates a client hello from its parts.
    public init(version: UInt16, spoolID: [UInt8], hostName: String, proof: [UInt8]) {
        self.version = version
        self.spoolID = spoolID
        self.hostName = hostName
        self.proof = proof
    }
}

/// The server's answer to a valid client hello: where the client resumes.
public struct Welcome: Sendable, Hashable {
    /// The highest sequence of the client's spool up to which the server holds every batch the client sent
    /// it (0 when none: sequences start at 1). The client starts after max(this, its own acked cursor).
    public var resumeSequence: UInt64

    /// Creates a welcome from its parts.
    public init(resumeSequence: UInt64) {
        self.resumeSequence = resumeSequence
    }
}

/// A sealed batch on the wire, or one part of a spool record split to fit the receiver's limits.
///
/// Two identities travel together: the *hop* one (`sequence`, `part`, `partCount`: the sender's own spool
/// record, which the server acknowledges) and the *origin* one (``BatchOrigin``: which batches of which
/// origin the events are, unchanged across every hop, which the server deduplicates by).
public struct BatchFrame: Sendable, Hashable {
    /// Bytes of the body besides the origin and the compressed bytes: sequence, part, part count, event
    /// count, uncompressed size, CRC32C and the u32 length of the compressed bytes.
    static let fixedBodySize = 8 + 2 + 2 + 4 + 4 + 4 + 4

    /// The sender's spool sequence of the record this frame carries (≥ 1).
    public var sequence: UInt64
    /// Which part of that record this is, from 0.
    public var part: UInt16
    /// How many parts the record was split into for this hop (1 when not split).
    public var partCount: UInt16
    /// Which batches of which origin the events are.
    public var origin: BatchOrigin
    /// The sealed events of this part.
    public var batch: SealedBatch

    /// Creates a batch frame; an unsplit record is part 0 of 1.
    public init(sequence: UInt64, part: UInt16 = 0, partCount: UInt16 = 1, origin: BatchOrigin, batch: SealedBatch) {
        self.sequence = sequence
        self.part = part
        self.partCount = partCount
        self.origin = origin
        self.batch = batch
    }

    /// The frame size (type byte and body) a batch with these origin and compressed sizes takes.
    public static func wireLength(compressedBytes: Int, origin: BatchOrigin) -> Int {
        1 + fixedBodySize + origin.wireSize + compressedBytes
    }

    /// Whether this is the last part of its batch (always true when not split).
    public var isLastPart: Bool { part &+ 1 == partCount }
}

/// A refusal: which batch, why, and a sentence for the operator.
public struct Refusal: Sendable, Hashable {
    /// The refused batch's sequence, or 0 when the refusal is about the connection.
    public var sequence: UInt64
    /// What the client does next.
    public var code: RefusalCode
    /// A human-readable reason for logs.
    public var reason: String

    /// Creates a refusal from its parts.
    public init(sequence: UInt64, code: RefusalCode, reason: String) {
        self.sequence = sequence
        self.code = code
        self.reason = reason
    }
}
