/// Which lines a source keeps: with include patterns, only lines that match one of them; then, of those, only
/// lines that match none of the exclude patterns. No patterns keeps every line.
///
/// A source applies its filter to each event it would store (after multi-line assembly, for files, so a stack
/// trace is kept or dropped whole); a dropped event is counted in `logferry_source_lines_filtered_total{source}`
/// and its bytes count as read: a file's offset moves past it, so it is not read again after a restart.
public struct LineFilter: Sendable {
    /// Keep only lines matching one of these (none: keep every line).
    public var include: [LineRegex]
    /// Drop lines matching any of these.
    public var exclude: [LineRegex]

    /// Makes a filter from compiled patterns.
    public init(include: [LineRegex] = [], exclude: [LineRegex] = []) {
        self.include = include
        self.exclude = exclude
    }

    /// A filter that keeps everything.
    public static let none = LineFilter()

    /// Whether the filter keeps every line (no patterns), so a source can skip it altogether.
    public var keepsEverything: Bool { include.isEmpty && exclude.isEmpty }

    /// Whether `line` passes: matches an include pattern (when there are any) and no exclude pattern.
    ///
    /// Sources call it for every line; without patterns it is one inlined check, not a call per line.
    @inline(__always)
    public func admits(_ line: UnsafeRawBufferPointer) -> Bool {
        keepsEverything || matchesPatterns(line)
    }

    /// Whether `line` passes (see ``admits(_:)-(UnsafeRawBufferPointer)``).
    public func admits(_ line: [UInt8]) -> Bool {
        line.withUnsafeBytes { admits($0) }
    }

    private func matchesPatterns(_ line: UnsafeRawBufferPointer) -> Bool {
        if !include.isEmpty, !include.contains(where: { $0.matches(line) }) { return false }
        return !exclude.contains { $0.matches(line) }
    }
}
