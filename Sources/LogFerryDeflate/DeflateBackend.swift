/// A deflate library that writes standard zlib streams (RFC 1950): whichever compresses, any zlib reads the
/// result, so the choice is local to one node and never part of the wire format.
///
/// The config strings (`compressor = "isal"`) are the raw values.
public enum DeflateBackend: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Intel ISA-L's igzip: the fastest compressor (levels 0 to 3). The default.
    case isal
    /// libdeflate: faster than zlib and a little smaller output (levels 0 to 12).
    case libdeflate
    /// zlib: the reference (levels 0 to 9).
    case zlib

    /// The backend named by a config value (`isal`, `libdeflate`, `zlib`), or nil for anything else.
    public init?(configValue: String) {
        self.init(rawValue: configValue)
    }

    /// The levels the library knows; ``DeflateCompressor`` clamps other levels into this range (ISA-L's
    /// 3 is its smallest output, so zlib-style 4...9 ask for it).
    public var levels: ClosedRange<Int> {
        switch self {
        case .isal: 0...3
        case .libdeflate: 0...12
        case .zlib: 0...9
        }
    }

    /// The config value naming this backend.
    public var description: String { rawValue }
}

/// A library that inflates zlib streams with a hard cap at the declared size.
public enum InflateBackend: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// libdeflate: whole-buffer inflate about three times faster than zlib. The default.
    case libdeflate
    /// zlib: the reference.
    case zlib

    /// The backend named by a config value (`libdeflate`, `zlib`), or nil for anything else.
    public init?(configValue: String) {
        self.init(rawValue: configValue)
    }

    /// The config value naming this backend.
    public var description: String { rawValue }
}
