/// When the spool forces appended records to stable storage.
///
/// The policy is the trade between throughput and what survives a power loss; Docs/SPOOL.md states exactly what
/// each one promises. Every policy survives a crash of the process (`kill -9`), because written bytes sit in the
/// kernel's page cache; they differ in what survives a crash of the machine.
public enum FsyncPolicy: Sendable, Hashable {
    /// `append` returns only after the record is on stable storage. Concurrent appends share one `fdatasync`
    /// (group commit).
    case always
    /// `append` returns once the record is written to the kernel; a background flush makes it stable at most
    /// `milliseconds` later.
    case interval(milliseconds: Int)
    /// `append` returns once the record is written to the kernel; the kernel decides when it reaches the disk.
    case never

    /// The interval used when the text says just `interval`.
    public static let defaultIntervalMilliseconds = 1000

    /// Parses `always`, `never`, `interval` (1000 ms) or `interval:<ms>` (e.g. `interval:250`).
    public init?(parsing text: String) {
        switch text {
        case "always": self = .always
        case "never": self = .never
        case "interval": self = .interval(milliseconds: Self.defaultIntervalMilliseconds)
        default:
            let prefix = "interval:"
            guard text.hasPrefix(prefix), let ms = Int(text.dropFirst(prefix.count)), ms > 0 else { return nil }
            self = .interval(milliseconds: ms)
        }
    }
}

extension FsyncPolicy: CustomStringConvertible {
    /// The text form that `init(parsing:)` accepts.
    public var description: String {
        switch self {
        case .always: "always"
        case .never: "never"
        case .interval(let ms): "interval:\(ms)"
        }
    }
}
