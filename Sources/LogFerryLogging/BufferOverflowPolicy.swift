/// What a log call does when the handler's in-memory buffer is full (the drain task is behind because the
/// spool is slow, full, or waiting for disk space).
public enum BufferOverflowPolicy: String, Sendable, Hashable, CaseIterable {
    /// The new event is dropped and counted; the log call returns at once. The default: a log call never waits.
    case dropNewest = "drop-newest"
    /// The oldest buffered event is dropped and counted to make room for the new one; the log call returns at once.
    case dropOldest = "drop-oldest"
    /// The log call waits until the drain task makes room. Nothing is dropped while the service runs, but the
    /// calling thread blocks: use it only when every thread that logs is one you own (never a Swift concurrency
    /// thread that the drain task itself may need). Once the service has stopped, events are dropped instead.
    case block
}
