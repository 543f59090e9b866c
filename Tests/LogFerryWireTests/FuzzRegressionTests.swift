import Foundation
import LogFerryBytes
import LogFerryWire
import NIOCore
import Testing

/// Replays the inputs in Vectors/fuzz/ (crashes found by Fuzz/run.sh or by the mutation tests) through the
/// same steps as the fuzz entry: every frame in the input, every batch frame through one reused decoder,
/// then the whole input as a spool payload. Each must end in a value or a typed error.
@Suite("Fuzz regressions")
struct FuzzRegressionTests {
    static func inputs() throws -> [URL] {
        let directory = try #require(Bundle.module.url(forResource: "fuzz", withExtension: nil, subdirectory: "Vectors"))
        return try FileManager.default.contentsOfDirectory(at: directory, includingPropertiesForKeys: nil)
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
    }

    @Test("every committed fuzz input replays without a crash")
    func replay() throws {
        let inputs = try Self.inputs()
        #expect(!inputs.isEmpty)
        for url in inputs {
            let bytes = try [UInt8](Data(contentsOf: url))
            var decoder = BatchDecoder(limits: WireLimits(
                maxFrameBytes: 1 << 16, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 1 << 12, maxWindow: 8))
            var buffer = ByteBuffer(bytes: bytes)
            var outcomes: [String] = []
            while buffer.readableBytes > 0 {
                guard let frame = try? Frame.decode(from: &buffer, maxFrameBytes: 1 << 16) else { break }
                if case .batch(let batchFrame) = frame {
                    do {
                        _ = try decoder.decode(batchFrame.batch)
                        outcomes.append("ok")
                    } catch {
                        outcomes.append(error.label)
                    }
                }
            }
            if var sealed = try? SealedBatch(serialized: bytes) {
                sealed.crc32c = CRC32C.checksum(sealed.compressed)
                _ = try? decoder.decode(sealed)
            }
            if url.lastPathComponent == "stale-avail-out-zero-size" {
                #expect(outcomes == ["stream_not_ended", "truncated"])
            }
        }
    }
}
