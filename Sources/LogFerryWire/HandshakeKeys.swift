/// The keys a listener checks a client's proof against.
///
/// A shared key (`--key-file`) proves only that a client holds the fleet's key: any holder can present any
/// host name. Per-host keys (`--key-dir`, one file per host) prove the host name itself, which the listener
/// then holds the client to (Docs/SECURITY.md).
public enum HandshakeKeys: Sendable, Hashable {
    /// No authentication.
    case none
    /// One key for every client.
    case shared([UInt8])
    /// A key per host name; a host without a key is refused.
    case perHost([String: [UInt8]])

    /// Whether a proof is required at all.
    var required: Bool {
        if case .none = self { return false }
        return true
    }

    /// The key `hostName` must prove, or nil when it has none.
    func key(for hostName: String) -> [UInt8]? {
        switch self {
        case .none: nil
        case .shared(let key): key
        case .perHost(let keys): keys[hostName]
        }
    }

    /// Whether a verified proof also proves the host name (per-host keys).
    public var provesHostName: Bool {
        if case .perHost = self { return true }
        return false
    }
}
