/// A failure of the test harness itself (a child that never announced itself, a deadline passed, a file that could
/// not be written), with what the child said on standard error when there is one.
public struct HarnessError: Error, CustomStringConvertible {
    /// What went wrong, for the failure message.
    public var description: String

    /// An error saying `description`.
    public init(_ description: String) { self.description = description }
}
