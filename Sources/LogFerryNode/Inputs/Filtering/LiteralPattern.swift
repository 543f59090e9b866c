#if canImport(Glibc)
import Glibc
#endif

/// The fast path of ``LineRegex``: a pattern made only of plain strings, `a`, `^a`, or `a|b|c` (each alternative
/// possibly anchored with `^`), matched with `memchr` + `memcmp` or a prefix compare. Anything with another ERE special
/// character (`.[]()*+?{}\$`) is not a literal pattern and goes to `regexec`.
struct LiteralPattern: Sendable {
    /// One alternative: its bytes, and whether it must be at the start of the line.
    struct Alternative: Sendable {
        var bytes: [UInt8]
        var anchored: Bool
    }

    let alternatives: [Alternative]

    /// The pattern's alternatives when it is a literal pattern; nil otherwise (and for an empty alternative,
    /// which matches every line and is left to `regexec` to say so).
    init?(_ pattern: String) {
        let special = Set(".[]()*+?{}\\$".utf8)
        var result: [Alternative] = []
        for part in pattern.utf8.split(separator: UInt8(ascii: "|"), omittingEmptySubsequences: false) {
            var bytes = Array(part)
            let anchored = bytes.first == UInt8(ascii: "^")
            if anchored { bytes.removeFirst() }
            guard !bytes.isEmpty, !bytes.contains(where: { special.contains($0) || $0 == UInt8(ascii: "^") }) else {
                return nil
            }
            result.append(Alternative(bytes: bytes, anchored: anchored))
        }
        alternatives = result
    }

    /// Whether any alternative occurs in `bytes` (at its start, for an anchored one).
    func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return false }
        for alternative in alternatives where alternative.bytes.count <= bytes.count {
            let found = alternative.bytes.withUnsafeBytes { needle -> Bool in
                guard let start = needle.baseAddress else { return false }
                if alternative.anchored { return memcmp(base, start, needle.count) == 0 }
                return Self.find(needle: start, count: needle.count, in: base, count: bytes.count)
            }
            if found { return true }
        }
        return false
    }

    /// Whether `needle` occurs in `haystack`: `memchr` for its first byte, then `memcmp` (glibc's `memchr`+`memcmp` is a GNU
    /// extension the Glibc module does not export).
    private static func find(needle: UnsafeRawPointer, count needleCount: Int, in haystack: UnsafeRawPointer, count: Int) -> Bool {
        let first = CInt(needle.load(as: UInt8.self))
        let last = count - needleCount
        var index = 0
        while index <= last {
            guard let hit = memchr(haystack + index, first, last - index + 1) else { return false }
            let position = UnsafeRawPointer(hit) - haystack
            if memcmp(haystack + position, needle, needleCount) == 0 { return true }
            index = position + 1
        }
        return false
    }
}
