import NIOCore
import Testing
@testable import LogFerryNode

@Suite("SyslogFrameDecoder")
struct SyslogFrameDecoderTests {
    /// Feeds `bytes` in pieces cut at `cuts`, as ByteToMessageHandler would, then signals end of stream.
    func decode(_ bytes: [UInt8], maxMessageBytes: Int, cuts: [Int]) throws -> [(String, Bool)] {
        var decoder = SyslogFrameDecoder(maxMessageBytes: maxMessageBytes)
        var buffer = ByteBuffer()
        var frames: [(String, Bool)] = []
        var start = 0
        for cut in cuts + [bytes.count] where cut >= start {
            buffer.writeBytes(bytes[start..<cut])
            start = cut
            while let frame = try decoder.decode(buffer: &buffer) {
                frames.append((String(buffer: frame.bytes), frame.truncated))
            }
            buffer.discardReadBytes()
        }
        while let frame = try decoder.decodeLast(buffer: &buffer, seenEOF: true) {
            frames.append((String(buffer: frame.bytes), frame.truncated))
        }
        return frames
    }

    func counted(_ s: String) -> String { "\(s.utf8.count) \(s)" }

    @Test("octet counting and newline framing, told apart per frame, at every split point")
    func mixedStream() throws {
        let stream = "<13>a\n" + counted("<13>b\nwith\nnewlines") + "c\r\n\n\0" + counted("<13>1 - - - - - -")
            + "12abc no count\n" + "<14>last without newline"
        let expected = ["<13>a", "<13>b\nwith\nnewlines", "c", "<13>1 - - - - - -", "12abc no count", "<14>last without newline"]
        let bytes = Array(stream.utf8)
        let whole = try decode(bytes, maxMessageBytes: 1024, cuts: [])
        #expect(whole.map(\.0) == expected)
        #expect(whole.allSatisfy { !$0.1 })
        for cut in 0...bytes.count {
            #expect(try decode(bytes, maxMessageBytes: 1024, cuts: [cut]).map(\.0) == expected, "cut at \(cut)")
        }
        #expect(try decode(bytes, maxMessageBytes: 1024, cuts: Array(0...bytes.count)).map(\.0) == expected)
    }

    @Test("over-long messages are cut, flagged, and the stream stays in step")
    func overLong() throws {
        let stream = "0123456789abcdef\nok\n" + counted("ABCDEFGHIJKLMNOPQRSTUVWXYZ") + counted("fine") + "12345678\r\n"
        let bytes = Array(stream.utf8)
        let expected: [(String, Bool)] = [("01234567", true), ("ok", false), ("ABCDEFGH", true), ("fine", false), ("12345678", false)]
        for cuts in [[], Array(0...bytes.count)] {
            let frames = try decode(bytes, maxMessageBytes: 8, cuts: cuts)
            #expect(frames.map(\.0) == expected.map(\.0))
            #expect(frames.map(\.1) == expected.map(\.1))
        }
    }

    @Test("a digit run that is no valid octet count starts a newline-framed message")
    func notACount() throws {
        let bytes = Array("12345678901 <13>x\n0 y\n007 z\n".utf8)
        for cuts in [[], Array(0...bytes.count)] {
            #expect(try decode(bytes, maxMessageBytes: 1024, cuts: cuts).map(\.0) == ["12345678901 <13>x", "0 y", "007 z"])
        }
    }

    @Test("at end of stream an incomplete counted frame is dropped, an unterminated line delivered")
    func endOfStream() throws {
        #expect(try decode(Array("20 <13>short".utf8), maxMessageBytes: 1024, cuts: []).isEmpty)
        #expect(try decode(Array("<13>x\r".utf8), maxMessageBytes: 1024, cuts: []).map(\.0) == ["<13>x"])
    }

    @Test("random bytes never trap")
    func junk() {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<500 {
            let bytes = (0..<Int.random(in: 0..<300, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator) & (Bool.random(using: &generator) ? 0xFF : 0x3F)
            }
            let cuts = (0..<5).map { _ in Int.random(in: 0...bytes.count, using: &generator) }.sorted()
            _ = try? decode(bytes, maxMessageBytes: 64, cuts: cuts)
        }
    }
}
