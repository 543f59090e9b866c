#if canImport(Glibc)
import Glibc
#endif

/// Cuts a byte stream into lines: the one line assembly of the agent's line sources (``FileTailer`` and
/// ``StdinSource``), so that `max-line-bytes` means the same everywhere.
///
/// A line ends at `\n`; a `\r` just before the `\n` is part of the terminator and is dropped. Bytes come in chunks of
/// any size, and a line may span many of them.
///
/// ## Over-long lines
/// A line is at most ``maxLineBytes`` bytes, its terminator not counted. A longer line is cut: its first
/// ``maxLineBytes`` bytes are handed out as one line, marked cut (the source counts it), and the rest of it up to the
/// next `\n` is discarded. The cut line is handed out when its `\n` arrives, like any line, so every byte up to a `\n`
/// is either handed out or discarded with the line it belongs to: just after a `\n` is always a clean place to
/// resume, and reading a line again from its start cuts it the same way again.
///
/// ## Flushing
/// ``flush()`` hands out the unfinished line at once (end of input, or a file's last line that waited long enough
/// for its newline); there a `\r` at its end is kept, since no `\n` follows it. A `\n` that comes right after ends
/// the line already handed out and is dropped (``flushedBeforeNewline``).
///
/// ## Positions
/// ``heldBytes`` counts the bytes fed of the unfinished line, discarded ones included: the position just after the
/// last line handed out (or newline dropped) is the position fed so far minus ``heldBytes``.
struct LineSplitter {
    /// The longest line handed out whole, without its terminator.
    let maxLineBytes: Int
    /// The unfinished line's first bytes: all of them while it is not cut (up to `maxLineBytes + 1`, the one more
    /// being a `\r` that may turn out to be part of the terminator), else its first `maxLineBytes`.
    private var head: [UInt8] = []
    /// The unfinished line is longer than ``maxLineBytes``: it will be handed out cut, its rest is being discarded.
    private(set) var isCutting = false
    /// Bytes fed of the unfinished line, including the discarded ones.
    private(set) var heldBytes = 0
    /// The last line was handed out by ``flush()`` before its `\n`: a `\n` fed next belongs to it and is dropped.
    /// A reader that resumes just after such a line (its previous byte is not a `\n`) sets this.
    var flushedBeforeNewline = false

    /// Makes a splitter that cuts lines longer than `maxLineBytes` (at least 1).
    init(maxLineBytes: Int) {
        self.maxLineBytes = max(maxLineBytes, 1)
    }

    /// Whether bytes of an unfinished line have been fed.
    var hasUnfinishedLine: Bool { heldBytes > 0 }

    /// The length of the line ``flush()`` would hand out now.
    var unfinishedLineLength: Int { min(head.count, maxLineBytes) }

    /// Feeds `bytes`. For each line that a `\n` in them completes, in order, calls `accept(line, cut, end)`: `line`
    /// without its terminator, `cut` when it was longer than ``maxLineBytes``, `end` the index in `bytes` just after
    /// its `\n`. `accept` returns false to refuse the line: feeding stops before it, the line stays unfinished as it
    /// was before this call, and the returned count (where its bytes in `bytes` begin) says how many bytes were
    /// taken; the caller feeds the rest again later. Returns `bytes.count` when every byte was taken.
    @discardableResult
    mutating func feed(
        _ bytes: UnsafeRawBufferPointer,
        accept: (_ line: [UInt8], _ cut: Bool, _ end: Int) throws -> Bool
    ) rethrows -> Int {
        try feedBorrowing(bytes) { line, cut, end in try accept(Array(line), cut, end) }
    }

    /// ``feed(_:accept:)`` lending each line instead of copying it: `line` is valid only during the call, and
    /// points into `bytes` whenever the line lies whole in them (the common case), so a caller that encodes
    /// lines as it reads them copies each line's bytes once.
    @discardableResult
    mutating func feedBorrowing(
        _ bytes: UnsafeRawBufferPointer,
        accept: (_ line: UnsafeRawBufferPointer, _ cut: Bool, _ end: Int) throws -> Bool
    ) rethrows -> Int {
        guard let base = bytes.baseAddress, !bytes.isEmpty else { return 0 }
        let count = bytes.count
        var index = 0
        if flushedBeforeNewline {
            flushedBeforeNewline = false
            if bytes[0] == Self.newline, !hasUnfinishedLine { index = 1 }
        }
        while index < count {
            guard let found = memchr(base + index, CInt(Self.newline), count - index) else {
                hold(UnsafeRawBufferPointer(rebasing: bytes[index..<count]))
                return count
            }
            let end = UnsafeRawPointer(found) - base
            let rest = UnsafeRawBufferPointer(rebasing: bytes[index..<end])
            let accepted: Bool
            if heldBytes == 0, rest.count <= maxLineBytes + 1 {
                // The whole line is in `bytes`: lend it in place.
                var length = rest.count
                if length > 0, rest[length - 1] == Self.carriageReturn { length -= 1 }
                if length <= maxLineBytes {
                    accepted = try accept(UnsafeRawBufferPointer(rebasing: rest[0..<length]), false, end + 1)
                } else {
                    accepted = try accept(UnsafeRawBufferPointer(rebasing: rest[0..<maxLineBytes]), true, end + 1)
                }
            } else {
                let (line, cut) = complete(rest)
                accepted = try line.withUnsafeBytes { try accept($0, cut, end + 1) }
            }
            guard accepted else { return index }
            discardUnfinishedLine()
            index = end + 1
        }
        return count
    }

    /// Hands out the unfinished line now, without waiting for its `\n`; nil when there is none. A `\n` fed next is
    /// dropped as the end of this line.
    mutating func flush() -> (line: [UInt8], cut: Bool)? {
        guard hasUnfinishedLine else { return nil }
        var line = head
        let cut = isCutting || line.count > maxLineBytes
        if line.count > maxLineBytes { line.removeLast(line.count - maxLineBytes) }
        discardUnfinishedLine()
        flushedBeforeNewline = true
        return (line, cut)
    }

    /// Forgets the unfinished line (its bytes will be fed again, e.g. after a file was closed and reopened).
    mutating func discardUnfinishedLine() {
        head = []
        isCutting = false
        heldBytes = 0
    }

    private static let newline = UInt8(ascii: "\n")
    private static let carriageReturn = UInt8(ascii: "\r")

    /// Takes bytes of the unfinished line (no `\n` among them), keeping at most `maxLineBytes + 1` of them; decides
    /// that the line is cut as soon as that is certain.
    private mutating func hold(_ bytes: UnsafeRawBufferPointer) {
        heldBytes += bytes.count
        guard !isCutting else { return }
        head.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes.prefix(maxLineBytes + 1 - head.count)))
        if heldBytes > maxLineBytes + 1 || (head.count > maxLineBytes && head.last != Self.carriageReturn) {
            head.removeLast(head.count - maxLineBytes)
            isCutting = true
        }
    }

    /// The line that `bytes` (its last bytes, up to its `\n`) complete; changes nothing, so that the line can still
    /// be refused.
    private func complete(_ bytes: UnsafeRawBufferPointer) -> (line: [UInt8], cut: Bool) {
        if isCutting { return (head, true) }
        let total = heldBytes + bytes.count
        var line: [UInt8]
        if head.isEmpty {
            line = Array(UnsafeRawBufferPointer(rebasing: bytes.prefix(maxLineBytes + 1)))
        } else {
            line = head
            line.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes.prefix(maxLineBytes + 1 - head.count)))
        }
        if total <= maxLineBytes + 1 {
            // `line` is the whole line.
            if line.last == Self.carriageReturn { line.removeLast() }
            if line.count <= maxLineBytes { return (line, false) }
        }
        line.removeLast(line.count - maxLineBytes)
        return (line, true)
    }
}
