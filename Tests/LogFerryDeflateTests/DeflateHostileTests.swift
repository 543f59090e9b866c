import LogFerryDeflate
import LogFerryTestSupport
import Testing

/// Streams that must not inflate: each is a typed error in every inflater, and nothing is written past the
/// declared size.
@Suite("Hostile zlib streams")
struct DeflateHostileTests {
    /// A short name for the error, so a test can say which errors it accepts.
    static func kind(_ error: DeflateError?) -> String {
        switch error {
        case nil: "no error"
        case .declaredSizeTooLarge: "declaredSizeTooLarge"
        case .sizeMismatch: "sizeMismatch"
        case .limitExceeded: "limitExceeded"
        case .streamNotEnded: "streamNotEnded"
        case .trailingData: "trailingData"
        case .corrupt: "corrupt"
        case .outOfMemory: "outOfMemory"
        case .inputTooLarge: "inputTooLarge"
        case .failed: "failed"
        }
    }

    /// Inflates `compressed` into a buffer of `declared` bytes followed by 64 guard bytes; returns the
    /// error, and checks the guard bytes are untouched.
    static func inflateError(
        _ inflater: DeflateInflater, _ compressed: [UInt8], declared: Int, sourceLocation: SourceLocation = #_sourceLocation
    ) -> DeflateError? {
        var buffer = [UInt8](repeating: 0xA5, count: declared + 64)
        var caught: DeflateError?
        compressed.withUnsafeBytes { input in
            buffer.withUnsafeMutableBytes { whole in
                do throws(DeflateError) {
                    try inflater.inflate(input, into: UnsafeMutableRawBufferPointer(rebasing: whole[..<declared]))
                } catch {
                    caught = error
                }
            }
        }
        #expect(buffer[declared...].allSatisfy { $0 == 0xA5 }, "inflate wrote past the declared size", sourceLocation: sourceLocation)
        return caught
    }

    static let sample: [UInt8] = {
        var rng = SeededGenerator(seed: 0x51A1E)
        return DeflateInteropTests.logLines(bytes: 4 << 10, using: &rng)
    }()

    /// Streams of the sample from every backend, and from zlib itself.
    static func streams() throws -> [(name: String, bytes: [UInt8])] {
        try DeflateBackend.allCases.map { ("\($0)", try DeflateCompressor(backend: $0, level: 1).compress(sample)) }
            + [("reference zlib", ReferenceZlib.compress(sample, level: 6))]
    }

    @Test("every truncation of a stream is an error", arguments: InflateBackend.allCases)
    func truncated(_ backend: InflateBackend) throws {
        let inflater = DeflateInflater(backend: backend)
        for (name, stream) in try Self.streams() {
            for cut in 0..<stream.count {
                let error = Self.inflateError(inflater, Array(stream[..<cut]), declared: Self.sample.count)
                #expect(["streamNotEnded", "corrupt"].contains(Self.kind(error)), "\(backend), \(name) cut at \(cut): \(Self.kind(error))")
            }
        }
    }

    @Test("bytes after the end of the stream are trailing data", arguments: InflateBackend.allCases)
    func trailing(_ backend: InflateBackend) throws {
        let inflater = DeflateInflater(backend: backend)
        for (name, stream) in try Self.streams() {
            for extra in [[0], [0xFF, 0xFF, 0xFF], stream] as [[UInt8]] {
                let error = Self.inflateError(inflater, stream + extra, declared: Self.sample.count)
                #expect(Self.kind(error) == "trailingData", "\(backend), \(name) + \(extra.count) bytes: \(Self.kind(error))")
            }
        }
    }

    @Test("a declared size other than the stream's is an error, before writing past it", arguments: InflateBackend.allCases)
    func wrongDeclaredSize(_ backend: InflateBackend) throws {
        let inflater = DeflateInflater(backend: backend)
        for (name, stream) in try Self.streams() {
            for declared in [Self.sample.count + 1, Self.sample.count + 1000] {
                let error = Self.inflateError(inflater, stream, declared: declared)
                #expect(error == .sizeMismatch(declared: declared, actual: Self.sample.count), "\(backend), \(name): \(Self.kind(error))")
            }
            for declared in [Self.sample.count - 1, 100, 0] {
                let error = Self.inflateError(inflater, stream, declared: declared)
                #expect(error == .limitExceeded(limit: declared), "\(backend), \(name) declared \(declared): \(Self.kind(error))")
            }
        }
    }

    @Test("a wrong Adler-32 is corrupt data", arguments: InflateBackend.allCases)
    func corruptedAdler(_ backend: InflateBackend) throws {
        let inflater = DeflateInflater(backend: backend)
        for (name, stream) in try Self.streams() {
            for index in stream.count - 4..<stream.count {
                var bad = stream
                bad[index] ^= 0x01
                let error = Self.inflateError(inflater, bad, declared: Self.sample.count)
                #expect(Self.kind(error) == "corrupt", "\(backend), \(name) adler byte \(index): \(Self.kind(error))")
            }
        }
    }

    @Test("a bad header or a preset dictionary is corrupt data", arguments: InflateBackend.allCases)
    func badHeader(_ backend: InflateBackend) throws {
        let inflater = DeflateInflater(backend: backend)
        let stream = ReferenceZlib.compress(Self.sample, level: 6)
        var wrongMethod = stream
        wrongMethod[0] = 0x79 // method 9, and the header check fails
        var presetDictionary = stream
        presetDictionary[1] = 0xBB // FDICT set, header check (0x78BB % 31 == 0) still right
        for (name, bad) in [("wrong method", wrongMethod), ("preset dictionary", presetDictionary), ("raw deflate", Array(stream.dropFirst(2)))] {
            let error = Self.inflateError(inflater, bad, declared: Self.sample.count)
            #expect(Self.kind(error) == "corrupt", "\(backend), \(name): \(Self.kind(error))")
        }
    }

    @Test("a bomb (256 MiB of zeros in a small stream) declared as 1 KiB stops at 1 KiB", arguments: InflateBackend.allCases)
    func bomb(_ backend: InflateBackend) throws {
        let bomb = ReferenceZlib.deflateZeros(total: 256 << 20)
        #expect(bomb.count < 1 << 20)
        let inflater = DeflateInflater(backend: backend)
        #expect(Self.inflateError(inflater, bomb, declared: 1024) == .limitExceeded(limit: 1024))
        // Into an allocated array: the declared size is checked against the limit and against what deflate
        // can make of the input, before anything is allocated.
        #expect(throws: DeflateError.declaredSizeTooLarge(declared: 1 << 30, limit: 64 << 20)) {
            try inflater.inflate(bomb, declaredSize: 1 << 30, limit: 64 << 20)
        }
        let tiny: [UInt8] = [0x78, 0x9C, 0x03, 0x00]
        #expect(throws: DeflateError.self) { try inflater.inflate(tiny, declaredSize: 1 << 20, limit: 1 << 30) }
        #expect(throws: DeflateError.limitExceeded(limit: 1024)) { try inflater.inflate(bomb, declaredSize: 1024, limit: 1 << 30) }
    }

    @Test("an empty or garbage input is an error, never a crash", arguments: InflateBackend.allCases)
    func garbage(_ backend: InflateBackend) {
        let inflater = DeflateInflater(backend: backend)
        var rng = SeededGenerator(seed: 99)
        #expect(Self.inflateError(inflater, [], declared: 0) != nil)
        #expect(Self.inflateError(inflater, [], declared: 10) != nil)
        for length in [1, 2, 6, 50, 1000] {
            for _ in 0..<50 {
                let error = Self.inflateError(inflater, rng.bytes(length), declared: 500)
                #expect(error != nil && Self.kind(error) != "failed", "\(backend), \(length) random bytes: \(Self.kind(error))")
            }
        }
    }

    @Test("the same inflater keeps working after errors")
    func reuseAfterErrors() throws {
        for backend in InflateBackend.allCases {
            let inflater = DeflateInflater(backend: backend)
            let good = ReferenceZlib.compress(Self.sample, level: 1)
            _ = Self.inflateError(inflater, Array(good.dropLast(3)), declared: Self.sample.count)
            _ = Self.inflateError(inflater, good, declared: 10)
            #expect(try inflater.inflate(good, declaredSize: Self.sample.count, limit: 1 << 20) == Self.sample, "\(backend)")
        }
    }
}
