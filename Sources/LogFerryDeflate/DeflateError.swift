/// Why a zlib stream could not be made or opened. Every hostile or corrupt input maps to one of these,
/// never to a crash and never to memory beyond the declared size.
public enum DeflateError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A declared size is beyond the caller's limit, or more than deflate can produce from the input
    /// (about 1032:1); refused before allocating anything.
    case declaredSizeTooLarge(declared: Int, limit: Int)
    /// The stream ended properly but produced fewer bytes than declared.
    case sizeMismatch(declared: Int, actual: Int)
    /// The stream would produce more than the declared size (a zip bomb, or corruption); nothing beyond
    /// the declared size was written.
    case limitExceeded(limit: Int)
    /// The input runs out before the end of the stream (truncated).
    case streamNotEnded
    /// Bytes follow the end of the zlib stream.
    case trailingData
    /// The data is not a valid zlib stream: bad header, bad deflate block, or a wrong Adler-32. `code` is
    /// the library's own code.
    case corrupt(backend: String, code: Int32, detail: String)
    /// The library could not allocate its state.
    case outOfMemory(backend: String)
    /// A buffer is beyond what the library takes in one call (4 GiB).
    case inputTooLarge(bytes: Int)
    /// The library failed in a way that is a bug rather than bad input (an output buffer too small, an
    /// unexpected status); `code` is the library's own code.
    case failed(backend: String, code: Int32, detail: String)

    /// An operator-facing sentence: what happened and what it means.
    public var description: String {
        switch self {
        case .declaredSizeTooLarge(let declared, let limit):
            "zlib stream declares \(declared) bytes uncompressed, more than the limit of \(limit) (or than deflate can produce from its size); refused before inflating"
        case .sizeMismatch(let declared, let actual):
            "zlib stream inflates to \(actual) bytes but \(declared) were declared; the data is corrupt"
        case .limitExceeded(let limit):
            "zlib stream inflates beyond its declared \(limit) bytes (a zip bomb or corruption); inflation was stopped there"
        case .streamNotEnded:
            "zlib stream is cut short before its end; the data is truncated"
        case .trailingData:
            "unexpected bytes after the end of the zlib stream; the data is corrupt"
        case .corrupt(let backend, let code, let detail):
            "corrupt zlib stream (\(backend) \(code): \(detail)); the data was damaged in storage or in transit"
        case .outOfMemory(let backend):
            "\(backend) could not allocate its compression state; the process is out of memory"
        case .inputTooLarge(let bytes):
            "\(bytes) bytes is more than one zlib stream may hold here (4 GiB)"
        case .failed(let backend, let code, let detail):
            "\(backend) failed (\(code): \(detail)); this is a bug in LogFerry, please report it"
        }
    }
}
