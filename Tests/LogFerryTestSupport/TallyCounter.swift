import Synchronization

/// A count one task bumps and another reads.
public final class TallyCounter: Sendable {
    private let count = Mutex(0)

    /// A count of zero.
    public init() {}

    /// The count so far.
    public var value: Int { count.withLock { $0 } }

    /// Adds one.
    public func increment() { count.withLock { $0 += 1 } }
}
