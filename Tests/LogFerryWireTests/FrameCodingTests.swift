import LogFerryTestSupport
import LogFerryWire
import NIOCore
import Testing

@Suite("Frame coding")
struct FrameCodingTests {
    static func sealed() throws -> SealedBatch {
        var encoder = BatchEncoder()
        return try encoder.encode(Samples.vectorBatch)
    }

    @Test("every frame type round-trips through ByteBuffer and the byte-array form agrees")
    func roundTrip() throws {
        for (name, frame) in Samples.everyFrame(sealed: try Self.sealed()) {
            var buffer = ByteBuffer()
            frame.encode(into: &buffer)
            #expect(Array(buffer.readableBytesView) == frame.encodedBytes(), "\(name)")
            buffer.writeBytes([0xEE])  // the start of the next frame must stay in the buffer
            let decoded = try Frame.decode(from: &buffer, maxFrameBytes: WireLimits.default.maxFrameBytes)
            #expect(decoded == frame, "\(name)")
            #expect(buffer.readableBytes == 1, "\(name)")
        }
    }

    @Test("every truncation of every frame waits for more bytes, and leaves the buffer untouched")
    func truncations() throws {
        for (name, frame) in Samples.everyFrame(sealed: try Self.sealed()) {
            let bytes = frame.encodedBytes()
            for cut in 0..<bytes.count {
                var buffer = ByteBuffer(bytes: bytes[..<cut])
                #expect(try Frame.decode(from: &buffer, maxFrameBytes: 1 << 20) == nil, "\(name) cut at \(cut)")
                #expect(buffer.readableBytes == cut)
            }
        }
    }

    @Test("every truncation of a frame body under a shortened length prefix is a typed error")
    func shortenedLength() throws {
        for (name, frame) in Samples.everyFrame(sealed: try Self.sealed()) {
            let bytes = frame.encodedBytes()
            for length in 0..<(bytes.count - 4) {
                var cut = Array(bytes[4..<(4 + length)])
                cut.insert(contentsOf: [UInt8(length >> 24), UInt8((length >> 16) & 0xFF), UInt8((length >> 8) & 0xFF), UInt8(length & 0xFF)], at: 0)
                var buffer = ByteBuffer(bytes: cut)
                let error = #expect(throws: WireError.self, "\(name) length \(length)") {
                    try Frame.decode(from: &buffer, maxFrameBytes: 1 << 20)
                }
                #expect(["truncated", "malformed"].contains(error?.label ?? ""), "\(name) length \(length): \(String(describing: error))")
            }
        }
    }

    @Test("an oversize length prefix is refused as soon as its 4 bytes arrive")
    func oversizeLength() {
        for length: UInt32 in [1025, 0x7FFF_FFFF, 0xFFFF_FFFF] {
            var buffer = ByteBuffer()
            buffer.writeInteger(length)
            let error = #expect(throws: WireError.self) { try Frame.decode(from: &buffer, maxFrameBytes: 1024) }
            #expect(error?.kind == .frameTooLarge(length: length, limit: 1024))
        }
        var zero = ByteBuffer(bytes: [0, 0, 0, 0])
        #expect(throws: WireError.self) { try Frame.decode(from: &zero, maxFrameBytes: 1024) }
    }

    @Test("unknown types, bad codes, bad sizes, invalid UTF-8 and trailing bytes are typed errors")
    func malformedBodies() {
        func decode(_ typeAndBody: [UInt8]) -> WireError? {
            var buffer = ByteBuffer()
            buffer.writeInteger(UInt32(typeAndBody.count))
            buffer.writeBytes(typeAndBody)
            return #expect(throws: WireError.self) { try Frame.decode(from: &buffer, maxFrameBytes: 1 << 20) }
        }
        #expect(decode([0])?.label == "unknown_frame_type")
        #expect(decode([9])?.label == "unknown_frame_type")
        #expect(decode([7, 0])?.label == "trailing_data")  // heartbeat with a body
        #expect(decode([5, 0, 0, 0, 0, 0, 0, 0])?.label == "truncated")  // ack of 7 bytes
        #expect(decode([6, 0, 0, 0, 0, 0, 0, 0, 1, 99, 0, 0])?.label == "malformed")  // refusal code 99
        #expect(decode([8, 0, 2, 0xC3, 0x28])?.label == "malformed")  // bye with invalid UTF-8
        #expect(decode([8, 0, 5, 0x41])?.label == "truncated")
        // Batch: part 2 of 2.
        #expect(decode([4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 2] + [UInt8](repeating: 0, count: 16))?.label == "malformed")
        // Batch whose compressed length claims more than the frame holds.
        #expect(decode([4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1] + [UInt8](repeating: 0, count: 12) + [0, 0, 0, 9, 1])?.label == "truncated")
        // Client hello with a 15-byte spool id.
        #expect(decode([2, 0, 1, 0, 15] + [UInt8](repeating: 0, count: 15) + [0, 0, 0, 0])?.label == "malformed")
        // Server hello with an inverted version range.
        #expect(decode([1, 0, 2, 0, 1, 0, 32] + [UInt8](repeating: 0, count: 32 + 16))?.label == "malformed")
    }

    @Test("100,000 seeded mutations of valid frames give a frame that re-encodes identically, nil, or a typed error")
    func mutations() throws {
        var rng = SeededGenerator(seed: 0xF4A3_E5EE)
        var encoder = BatchEncoder()
        let small = try encoder.encode(Samples.randomBatch(using: &rng, events: 5, maxLine: 30))
        let originals = Samples.everyFrame(sealed: small).map { $0.frame.encodedBytes() }
        var decoder = BatchDecoder(limits: WireLimits(maxFrameBytes: 1 << 14, maxUncompressedBytes: 1 << 14,
                                                      maxEventsPerBatch: 1 << 10, maxWindow: 1))
        var outcomes = (frames: 0, incomplete: 0, errors: 0)
        for _ in 0..<100_000 {
            var bytes = originals[Int.random(in: 0..<originals.count, using: &rng)]
            Mutator.mutate(&bytes, using: &rng)
            var buffer = ByteBuffer(bytes: bytes)
            do {
                guard let frame = try Frame.decode(from: &buffer, maxFrameBytes: 1 << 14) else {
                    outcomes.incomplete += 1
                    continue
                }
                outcomes.frames += 1
                let consumed = bytes.count - buffer.readableBytes
                #expect(frame.encodedBytes() == Array(bytes[..<consumed]))
                if case .batch(let batchFrame) = frame {
                    _ = try? decoder.decode(batchFrame.batch)
                }
            } catch {
                outcomes.errors += 1
                #expect(!error.description.isEmpty)
            }
        }
        #expect(outcomes.frames > 0 && outcomes.errors > 0 && outcomes.incomplete > 0)
    }

    @Test("FrameDecoder driven by NIO's single-step processor splits a byte stream fed in random chunks")
    func nioDecoderChunked() throws {
        let frames = Samples.everyFrame(sealed: try Self.sealed()).map(\.frame)
        var stream = ByteBuffer()
        for frame in frames { frame.encode(into: &stream) }
        let bytes = Array(stream.readableBytesView)
        var rng = SeededGenerator(seed: 42)
        for _ in 0..<50 {
            let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(maxFrameBytes: 1 << 20))
            var received: [Frame] = []
            var offset = 0
            while offset < bytes.count {
                let next = min(bytes.count, offset + Int.random(in: 1...64, using: &rng))
                try processor.process(buffer: ByteBuffer(bytes: bytes[offset..<next])) { received.append($0) }
                offset = next
            }
            try processor.finishProcessing(seenEOF: true) { received.append($0) }
            #expect(received == frames)
        }
    }

    @Test("FrameDecoder fails on an oversize frame after 4 bytes and on a frame cut off by EOF")
    func nioDecoderErrors() throws {
        let processor = NIOSingleStepByteToMessageProcessor(FrameDecoder(maxFrameBytes: 64))
        #expect(throws: WireError.self) {
            try processor.process(buffer: ByteBuffer(bytes: [0, 0, 1, 0])) { _ in Issue.record("no frame expected") }
        }
        let cut = NIOSingleStepByteToMessageProcessor(FrameDecoder(maxFrameBytes: 64))
        try cut.process(buffer: ByteBuffer(bytes: Frame.ack(1).encodedBytes().dropLast())) { _ in Issue.record("no frame expected") }
        let error = #expect(throws: WireError.self) { try cut.finishProcessing(seenEOF: true) { _ in } }
        #expect(error?.label == "truncated")
    }

    @Test("FrameEncoder writes what encode(into:) writes")
    func nioEncoder() throws {
        for (_, frame) in Samples.everyFrame(sealed: try Self.sealed()) {
            var out = ByteBuffer()
            try FrameEncoder().encode(data: frame, out: &out)
            #expect(Array(out.readableBytesView) == frame.encodedBytes())
        }
    }

    @Test("strings longer than 65,535 bytes are cut at a scalar boundary, still decodable")
    func longStrings() throws {
        let reason = String(repeating: "a", count: 65_534) + "é" + "tail"
        let frame = Frame.bye(reason)
        var buffer = ByteBuffer(bytes: frame.encodedBytes())
        let decoded = try Frame.decode(from: &buffer, maxFrameBytes: 1 << 20)
        #expect(decoded == .bye(String(repeating: "a", count: 65_534)))
    }
}
