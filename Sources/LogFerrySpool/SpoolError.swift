/// An error from the spool, with a message for the operator: what happened, where, and what to do.
public struct SpoolError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, for code that reacts to it.
    public enum Kind: Sendable, Equatable {
        /// Another process holds the spool's lock (its pid when the lock file names one).
        case locked(pid: Int32?)
        /// An fsync or write error left the spool in a failed state; it refuses appends until reopened.
        case failed(reason: String)
        /// The spool was closed.
        case closed
        /// The directory cannot be created, read or written.
        case unusableDirectory
        /// The record is larger than the spool accepts.
        case recordTooLarge(bytes: Int, limit: Int)
        /// The disk (or the file size limit) is full; the append stored nothing and may be retried later.
        case noSpace
        /// A cursor or state name that is not usable as a file name.
        case invalidName(String)
        /// A commit beyond the last stored sequence.
        case invalidSequence(UInt64)
        /// Any other I/O error (errno).
        case io(errno: Int32)
    }

    /// What went wrong.
    public let kind: Kind
    /// The operator-facing message.
    public let message: String

    /// Makes an error.
    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    /// The operator-facing message.
    public var description: String { message }
}
