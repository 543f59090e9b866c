/// Bytes that do not hold what a ``ByteReader`` or ``Varint`` was asked to read.
///
/// Each module maps this to its own error (the wire's `WireError`, the node's metadata errors), so a damaged
/// input is an error to report, never a crash.
public struct ByteDecodingError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What is wrong with the bytes.
    public enum Kind: Sendable, Hashable {
        /// The bytes end before the value does.
        case truncated
        /// A varint has more than 64 bits of value (an 11th byte, or a 10th byte above 1).
        case varintOverflow
        /// A varint has a redundant trailing zero group, so the same value could be written with fewer bytes.
        case varintNotMinimal
    }

    /// What is wrong with the bytes.
    public var kind: Kind
    /// The offset of the value that could not be read, from the start of the bytes.
    public var offset: Int

    /// Creates an error of `kind` for the value starting at `offset`.
    public init(_ kind: Kind, at offset: Int) {
        self.kind = kind
        self.offset = offset
    }

    /// The problem and where it is, e.g. "truncated at byte 12".
    public var description: String {
        switch kind {
        case .truncated: "truncated at byte \(offset)"
        case .varintOverflow: "varint at byte \(offset) overflows 64 bits"
        case .varintNotMinimal: "varint at byte \(offset) is not minimally encoded"
        }
    }
}
