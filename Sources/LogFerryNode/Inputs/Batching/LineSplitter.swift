/// Cuts a byte stream into lines at `\n` (a `\r` before it is dropped), with a maximum line length: a
/// longer line is cut there and the cut is reported, the rest of it becoming the next line.
struct LineSplitter {
    let maxLineBytes: Int
    private var pending: [UInt8] = []

    init(maxLineBytes: Int) {
        self.maxLineBytes = max(maxLineBytes, 1)
    }

    /// Whether bytes of an unfinished line are waiting.
    var hasPending: Bool { !pending.isEmpty }

    /// Feeds bytes; calls `emit(line, cut)` for each complete (or cut) line.
    mutating func feed<Bytes: Sequence>(_ bytes: Bytes, emit: (_ line: [UInt8], _ cut: Bool) throws -> Void) rethrows
    where Bytes.Element == UInt8 {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                if pending.last == UInt8(ascii: "\r") { pending.removeLast() }
                try emit(pending, false)
                pending.removeAll(keepingCapacity: true)
            } else {
                pending.append(byte)
                if pending.count >= maxLineBytes {
                    try emit(pending, true)
                    pending.removeAll(keepingCapacity: true)
                }
            }
        }
    }

    /// The unfinished last line (end of input), if any.
    mutating func finish() -> [UInt8]? {
        guard !pending.isEmpty else { return nil }
        defer { pending.removeAll() }
        return pending
    }
}
