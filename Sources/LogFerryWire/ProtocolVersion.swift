/// The versions of the ferry protocol this build speaks.
///
/// The server announces a range in its hello and the client picks the highest version both support; a
/// client that finds none is refused with ``RefusalCode/unsupportedVersion``.
public enum ProtocolVersion {
    /// The version this build prefers.
    public static let current: UInt16 = 1
    /// Every version this build can speak.
    public static let supported: ClosedRange<UInt16> = 1...1
}
