import LogFerryTestSupport
import Foundation
import LogFerryDeflate
import LogFerryWire
import NIOCore
import Testing

/// The test vectors of Docs/PROTOCOL.md, kept in Vectors/vectors.json.
///
/// The frame values live here; their bytes live in the file. Both directions are checked (encode gives the
/// bytes, the bytes decode to the value), and every hex string must also appear in Docs/PROTOCOL.md, so the
/// file and the document cannot drift apart. To regenerate after a deliberate format change, run the tests
/// with `LOGFERRY_WRITE_VECTORS=/path/vectors.json` and paste the printed Markdown into the document.
@Suite("Test vectors")
struct VectorTests {
    struct Vectors: Codable {
        struct Named: Codable {
            var name: String
            var hex: String
        }
        struct CompressedBatch: Codable {
            var level: Int
            var zlibVersion: String
            var body: String
            var sealed: String
        }
        var frames: [Named]
        var batch: CompressedBatch
    }

    static func load() throws -> Vectors {
        let url = try #require(Bundle.module.url(forResource: "vectors", withExtension: "json", subdirectory: "Vectors"))
        return try JSONDecoder().decode(Vectors.self, from: Data(contentsOf: url))
    }

    static func protocolDocument() throws -> String {
        let url = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Docs/PROTOCOL.md")
        return try String(contentsOf: url, encoding: .utf8)
    }

    @Test("the compressed batch vector decodes to the vector batch, and its body is what the encoder writes")
    func compressedBatch() throws {
        let vectors = try Self.load()
        let sealed = try SealedBatch(serialized: try #require(Hex.decode(vectors.batch.sealed)))
        for inflater in InflateBackend.allCases {
            var decoder = BatchDecoder(inflater: inflater)
            #expect(try decoder.decode(sealed) == Samples.vectorBatch, "\(inflater)")
        }

        // The vector was made by zlib; ISA-L and libdeflate write other (equally valid) streams.
        var encoder = BatchEncoder(level: vectors.batch.level, compressor: .zlib)
        let ours = try encoder.encode(Samples.vectorBatch)
        let body = try #require(ReferenceZlib.uncompress(ours.compressed, size: Int(ours.uncompressedSize)))
        #expect(Hex.encode(body) == vectors.batch.body)
        #expect(ReferenceZlib.uncompress(sealed.compressed, size: Int(sealed.uncompressedSize)) == body)
        // deflate's exact output is zlib's business; compare it only against the zlib that made the vector.
        if ReferenceZlib.version == vectors.batch.zlibVersion {
            #expect(Hex.encode(ours.serialized()) == vectors.batch.sealed)
        }
    }

    @Test("every frame vector encodes from its value and decodes back to it")
    func frames() throws {
        let vectors = try Self.load()
        let sealed = try SealedBatch(serialized: try #require(Hex.decode(vectors.batch.sealed)))
        let expected = Samples.everyFrame(sealed: sealed)
        #expect(vectors.frames.map(\.name) == expected.map(\.name))
        #expect(Set(expected.map(\.frame.kind)) == Set(Frame.Kind.allCases))
        for (vector, value) in zip(vectors.frames, expected) {
            #expect(Hex.encode(value.frame.encodedBytes()) == vector.hex, "\(vector.name)")
            var buffer = ByteBuffer(bytes: try #require(Hex.decode(vector.hex)))
            #expect(try Frame.decode(from: &buffer, maxFrameBytes: WireLimits.default.maxFrameBytes) == value.frame, "\(vector.name)")
            #expect(buffer.readableBytes == 0)
        }
    }

    @Test("Docs/PROTOCOL.md shows every vector of vectors.json")
    func documentAgrees() throws {
        let vectors = try Self.load()
        let document = try Self.protocolDocument()
        for vector in vectors.frames {
            #expect(document.contains(vector.hex), "PROTOCOL.md lacks the \(vector.name) vector")
        }
        #expect(document.contains(vectors.batch.body), "PROTOCOL.md lacks the batch body vector")
        #expect(document.contains(vectors.batch.sealed), "PROTOCOL.md lacks the sealed batch vector")
    }

    @Test("regenerate the vectors when asked (LOGFERRY_WRITE_VECTORS)")
    func regenerate() throws {
        guard let path = ProcessInfo.processInfo.environment["LOGFERRY_WRITE_VECTORS"] else { return }
        var encoder = BatchEncoder(level: 1, compressor: .zlib)
        let sealed = try encoder.encode(Samples.vectorBatch)
        let body = try #require(ReferenceZlib.uncompress(sealed.compressed, size: Int(sealed.uncompressedSize)))
        let vectors = Vectors(
            frames: Samples.everyFrame(sealed: sealed).map { .init(name: $0.name, hex: Hex.encode($0.frame.encodedBytes())) },
            batch: .init(level: 1, zlibVersion: ReferenceZlib.version, body: Hex.encode(body), sealed: Hex.encode(sealed.serialized()))
        )
        let json = JSONEncoder()
        json.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try json.encode(vectors).write(to: URL(fileURLWithPath: path))
    }
}
