import LogFerryDeflate

extension WireError {
    /// The wire error for a compress or inflate failure, whichever backend reported it.
    ///
    /// Corrupt data keeps the ``Kind/zlib(code:message:)`` kind with zlib's `Z_DATA_ERROR` (-3), and an
    /// allocation failure `Z_MEM_ERROR` (-4), so metric labels and refusal codes do not depend on the backend;
    /// the message names the backend and what it saw.
    init(deflate error: DeflateError) {
        switch error {
        case .declaredSizeTooLarge(let declared, let limit):
            self.init(.uncompressedTooLarge(size: UInt32(clamping: declared), limit: UInt32(clamping: limit)))
        case .sizeMismatch(let declared, let actual):
            self.init(.sizeMismatch(declared: UInt32(clamping: declared), actual: UInt32(clamping: actual)))
        case .limitExceeded(let limit):
            self.init(.inflateLimitExceeded(limit: UInt32(clamping: limit)))
        case .streamNotEnded:
            self.init(.streamNotEnded)
        case .trailingData:
            self.init(.trailingData)
        case .corrupt(let backend, _, let detail):
            self.init(.zlib(code: -3, message: "\(backend): \(detail)"))
        case .outOfMemory(let backend):
            self.init(.zlib(code: -4, message: "\(backend): out of memory"))
        case .inputTooLarge(let bytes):
            self.init(.uncompressedTooLarge(size: UInt32(clamping: bytes), limit: UInt32.max))
        case .failed(let backend, let code, let detail):
            self.init(.zlib(code: code, message: "\(backend) failed: \(detail)"))
        }
    }
}
