import Testing
@testable import LogFerryNode

@Suite("File checkpoint encoding")
struct FileCheckpointEncodingTests {
    static let checkpoint = FileCheckpoint(
        identity: FileIdentity(device: 2049, inode: 131_072, fingerprint: 0x0123_4567_89AB_CDEF, fingerprintLength: 1024),
        path: "/var/log/app.log",
        offset: 1 << 40
    )

    @Test("the bytes of a checkpoint list are unchanged: varints, a big-endian fingerprint, the path")
    func layout() throws {
        let bytes = FileCheckpoint.encode([Self.checkpoint])
        let expected: [UInt8] = [1, 1]  // version, count
            + [0x81, 0x10]  // device 2049
            + [0x80, 0x80, 0x08]  // inode 131072
            + [0x01, 0x23, 0x45, 0x67, 0x89, 0xAB, 0xCD, 0xEF]  // fingerprint
            + [0x80, 0x08]  // fingerprint length 1024
            + [0x80, 0x80, 0x80, 0x80, 0x80, 0x20]  // offset 2^40
            + [16] + Array("/var/log/app.log".utf8)
        #expect(bytes == expected)
        #expect(try FileCheckpoint.decode(bytes) == [Self.checkpoint])
    }

    @Test("a varint with a redundant zero group is refused, not read as the same value")
    func nonMinimalRefused() {
        // count 1 written as 0x81 0x00 instead of 0x01
        var bytes: [UInt8] = [1, 0x81, 0x00]
        bytes += FileCheckpoint.encode([Self.checkpoint]).dropFirst(2)
        #expect(throws: FileCheckpointDecodingError.self) { try FileCheckpoint.decode(bytes) }
        do {
            _ = try FileCheckpoint.decode(bytes)
        } catch {
            #expect(error.reason.contains("not minimally encoded"), "\(error)")
        }
        // An 11-byte varint (more than 64 bits) is refused too.
        #expect(throws: FileCheckpointDecodingError.self) {
            try FileCheckpoint.decode([1] + [UInt8](repeating: 0xFF, count: 10) + [0x01])
        }
    }
}
