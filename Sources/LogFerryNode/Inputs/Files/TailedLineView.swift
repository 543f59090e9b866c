/// One line lent by ``FileTailer/poll(maxLines:maxBytes:_:)``: like ``TailedLine``, but its bytes are valid only
/// during the call that lends them.
struct TailedLineView {
    /// The path the file had when the line was read.
    let path: String
    /// The line's bytes without its newline (and without a `\r` before the newline).
    let line: UnsafeRawBufferPointer
    /// The file the line came from.
    let identity: FileIdentity
    /// The byte offset just after this line, including its newline.
    let endOffset: UInt64
    /// True when the line was cut at ``FileTailerConfiguration/maxLineBytes``.
    let truncated: Bool
}
