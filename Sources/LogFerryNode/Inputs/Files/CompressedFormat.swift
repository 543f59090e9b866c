/// Compressed files recognised by their magic bytes (never by their name): a rotation such as `app.log.1.gz`
/// that a glob like `app.log*` matches is skipped, not shipped as binary lines.
enum CompressedFormat: String, CaseIterable, Sendable {
    case gzip
    case bzip2
    case xz
    case zstd

    /// The leading bytes of each format (bzip2's `BZh` is followed by the block size digit).
    var magic: [UInt8] {
        switch self {
        case .gzip: [0x1F, 0x8B]
        case .bzip2: [0x42, 0x5A, 0x68]
        case .xz: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]
        case .zstd: [0x28, 0xB5, 0x2F, 0xFD]
        }
    }

    /// What the first bytes of a file say.
    enum Verdict: Equatable {
        /// Compressed in this format.
        case compressed(CompressedFormat)
        /// Not compressed.
        case plain
        /// Too few bytes to tell: they are the beginning of a magic.
        case undecided
    }

    /// Looks at a file's first bytes (as many as are there).
    static func detect(_ head: some Collection<UInt8>) -> Verdict {
        guard !head.isEmpty else { return .undecided }
        var undecided = false
        for format in allCases {
            // bzip2's magic is `BZh` and a block size digit 1-9.
            let length = format.magic.count + (format == .bzip2 ? 1 : 0)
            let prefix = Array(head.prefix(length))
            guard prefix.prefix(format.magic.count).elementsEqual(format.magic.prefix(prefix.count)) else { continue }
            if prefix.count < length {
                undecided = true
            } else if format != .bzip2 || (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(prefix[3]) {
                return .compressed(format)
            }
        }
        return undecided ? .undecided : .plain
    }
}
