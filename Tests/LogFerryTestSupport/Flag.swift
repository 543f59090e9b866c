import Synchronization

/// A flag one task sets and another reads.
public final class Flag: Sendable {
    private let value = Mutex(false)

    /// A flag not set yet.
    public init() {}

    /// Whether the flag is set.
    public var isSet: Bool { value.withLock { $0 } }

    /// Sets the flag.
    public func set() { value.withLock { $0 = true } }
}
