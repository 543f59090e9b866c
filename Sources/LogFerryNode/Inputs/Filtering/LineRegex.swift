#if canImport(Glibc)
import Glibc
#endif

/// A regular expression compiled once, at start, and matched against raw line bytes: the matcher behind line
/// filters (`--file-include`, `--stdin-exclude`, ...) and multi-line events (`--multiline-start`).
///
/// The syntax is POSIX extended (ERE) as glibc's `regcomp(3)` takes it, with its GNU extensions (`\s`, `\S`, `\w`,
/// `\W`, `\b`, `\<`, `\>`); `\d` is not among them, write `[0-9]`. A pattern matches when it matches anywhere in the
/// line (anchor it with `^` or `$`); `^` and `$` match only at the start and end of the whole text, also when an
/// assembled multi-line event holds newlines.
///
/// ## Why POSIX and not Swift `Regex`
/// Measured with `logferry bench filter` on typical log lines (`Docs/CONFIGURATION.md`, "Filters"): glibc `regexec`
/// costs 77–152 ns a line, Swift `Regex` 1.1–9.6 µs (plus a `String` per line), 14–210 times more. Lines are matched
/// in place (`REG_STARTEND`, no copy, no terminating NUL). A pattern that is a plain string, or `^` and a plain
/// string, or plain strings separated by `|` (`ERROR|WARN`), skips the regex engine (`LiteralPattern`): 22–48 ns.
public final class LineRegex: @unchecked Sendable {
    // Sendable: `compiled` is written only by `init` and freed by `deinit`; glibc's `regexec` is thread-safe on
    // one compiled expression (it locks internally), and the sources each use theirs from one task.

    /// The pattern as the operator wrote it.
    public let pattern: String
    private let compiled: UnsafeMutablePointer<regex_t>
    private let literal: LiteralPattern?

    /// Compiles `pattern` (POSIX extended syntax); throws ``LineRegexError`` with glibc's reason when it is not a
    /// valid expression.
    public init(_ pattern: String) throws(LineRegexError) {
        self.pattern = pattern
        guard !pattern.utf8.contains(0) else {
            throw LineRegexError(pattern: pattern, reason: "it contains a NUL byte")
        }
        compiled = .allocate(capacity: 1)
        let status = regcomp(compiled, pattern, REG_EXTENDED | REG_NOSUB)
        guard status == 0 else {
            var message = [CChar](repeating: 0, count: 256)
            regerror(status, compiled, &message, message.count)
            compiled.deallocate()
            let reason = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw LineRegexError(pattern: pattern, reason: reason)
        }
        literal = LiteralPattern(pattern)
    }

    deinit {
        regfree(compiled)
        compiled.deallocate()
    }

    /// Whether the expression matches anywhere in `bytes`.
    public func matches(_ bytes: UnsafeRawBufferPointer) -> Bool {
        if let literal { return literal.matches(bytes) }
        // REG_STARTEND: the bounds come from `match`, so the line needs no NUL and is not copied. An empty line
        // still needs a valid pointer.
        var match = regmatch_t(rm_so: 0, rm_eo: regoff_t(bytes.count))
        guard let base = bytes.baseAddress else {
            return "".withCString { regexec(compiled, $0, 1, &match, REG_STARTEND) == 0 }
        }
        return regexec(compiled, base.assumingMemoryBound(to: CChar.self), 1, &match, REG_STARTEND) == 0
    }

    /// Whether the expression matches anywhere in `bytes`.
    public func matches(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { matches($0) }
    }

    /// Whether the pattern takes the plain-string fast path (`memchr`+`memcmp`) rather than `regexec`; for tests and
    /// `logferry bench filter`.
    public var isPlainString: Bool { literal != nil }
}

/// A thrown ``LineRegex`` compilation failure: the pattern and glibc's reason.
public struct LineRegexError: Error, Sendable, CustomStringConvertible {
    /// The pattern that did not compile.
    public var pattern: String
    /// `regerror(3)`'s text, e.g. "Unmatched ( or \\(".
    public var reason: String

    /// Makes an error.
    public init(pattern: String, reason: String) {
        self.pattern = pattern
        self.reason = reason
    }

    /// "not a valid POSIX extended regular expression (Unmatched [, [^, ...)".
    public var description: String {
        "not a valid POSIX extended regular expression (\(reason))"
    }
}
