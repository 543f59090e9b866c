/// One line handed out by ``FileTailer``.
struct TailedLine: Sendable {
    /// The path the file had when the line was read (after a rename, the last path the tailer knew).
    var path: String
    /// The line's bytes without its newline (and without a `\r` before the newline).
    var line: [UInt8]
    /// The file the line came from.
    var identity: FileIdentity
    /// The byte offset just after this line, including its newline: where a resume would continue.
    var endOffset: UInt64
    /// True when the line was longer than ``FileTailerConfiguration/maxLineBytes`` and was cut.
    var truncated: Bool

    /// Makes a line.
    init(path: String, line: [UInt8], identity: FileIdentity, endOffset: UInt64, truncated: Bool) {
        self.path = path
        self.line = line
        self.identity = identity
        self.endOffset = endOffset
        self.truncated = truncated
    }
}

extension TailedLine {
    /// Copies a lent line.
    init(_ view: TailedLineView) {
        self.init(path: view.path, line: Array(view.line), identity: view.identity, endOffset: view.endOffset,
                  truncated: view.truncated)
    }
}
