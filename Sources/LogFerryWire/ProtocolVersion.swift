/// The versions of the ferry protocol this build speaks.
///
/// Version 2 carries the origin of every batch (``BatchOrigin``) and is not compatible with version 1, whose
/// batches name only the hop they came from; a version-1 peer is refused with a reason that names both ranges.
///
/// The server announces a range in its hello and the client picks the highest version both support; a
/// client that finds none is refused with ``RefusalCode/unsupportedVersion``.
public enum ProtocolVersion {
    /// The version this build prefers.
    public static let current: UInt16 = 2
    /// Every version this build can speak.
    public static let supported: ClosedRange<UInt16> = 2...2
}
