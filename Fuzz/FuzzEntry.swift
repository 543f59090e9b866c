// libFuzzer entry for the frame decoder and the batch decoder (inflate + parse).
//
// Compiled by Fuzz/run.sh together with the NIO-free sources of LogFerryWire, so it calls the same pure
// functions the NIO coders call. Any crash, sanitizer report or failed precondition is a finding. Every
// batch goes through both inflaters (libdeflate, the default, and zlib, the reference): they must accept
// the same streams and produce the same bytes.

import LogFerryBytes
import LogFerryDeflate

private let limits = WireLimits(
    maxFrameBytes: 1 << 16, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 1 << 12, maxWindow: 8)

@_cdecl("LLVMFuzzerTestOneInput")
public func logferryFuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var decoder = BatchDecoder(limits: limits)
    var reference = BatchDecoder(limits: limits, inflater: .zlib)

    // 1. The input as a stream of frames.
    var offset = 0
    while offset < bytes.count {
        let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
        guard let decoded = try? Frame.decode(from: rest, maxFrameBytes: limits.maxFrameBytes) else { break }
        // A decoded frame re-encodes to exactly the bytes it came from (one value, one encoding).
        precondition(decoded.frame.encodedBytes() == Array(rest[..<decoded.consumed]), "frame re-encodes differently")
        if case .batch(let frame) = decoded.frame {
            checkBatch(frame.batch, decoder: &decoder, reference: &reference)
        }
        offset += decoded.consumed
    }

    // 2. The input as a spool payload (sealed batch), with the CRC made right so inflate and parse run.
    if var sealed = try? SealedBatch(serialized: Array(bytes)) {
        precondition(sealed.serialized() == Array(bytes), "sealed batch re-serializes differently")
        sealed.crc32c = CRC32C.checksum(sealed.compressed)
        checkBatch(sealed, decoder: &decoder, reference: &reference)
    }
    // 3. The input as an uncompressed batch body (after a u16 event count), so the parser sees structure
    //    the fuzzer could never get through deflate on its own. The first byte also picks the compressor.
    if bytes.count >= 2 {
        let eventCount = UInt32(bytes[0]) << 8 | UInt32(bytes[1])
        let body = UnsafeRawBufferPointer(rebasing: bytes[2...])
        let backend = DeflateBackend.allCases[Int(bytes[0]) % DeflateBackend.allCases.count]
        let deflater = DeflateCompressor(backend: backend, level: Int(bytes[1] % 10))
        var output = [UInt8](repeating: 0, count: deflater.outputCapacity(body.count))
        let produced = output.withUnsafeMutableBytes { try? deflater.compress(body, into: $0) }
        precondition(produced != nil, "\(backend) cannot compress \(body.count) bytes")
        if let produced {
            let compressed = Array(output[..<produced])
            let sealed = SealedBatch(eventCount: eventCount, uncompressedSize: UInt32(body.count),
                                     crc32c: CRC32C.checksum(compressed), compressed: compressed)
            precondition(produced <= DeflateCompressor.worstCaseSize(body.count), "\(backend) beyond the worst case")
            if let batch = checkBatch(sealed, decoder: &decoder, reference: &reference) {
                // The body is canonical: re-encoding gives back the very same bytes.
                var encoder = BatchEncoder(level: 1)
                guard let again = try? encoder.encode(batch) else { preconditionFailure("no re-encode") }
                let inflated = try? DeflateInflater(backend: .zlib).inflate(
                    again.compressed, declaredSize: Int(again.uncompressedSize), limit: 1 << 20)
                precondition(inflated == Array(body), "batch body is not canonical")
            }
        }
    }
    return 0
}

/// Decodes `sealed`; the zlib-inflating `reference` decodes it the same, validate agrees, and a re-encode
/// decodes to the same batch.
@discardableResult
private func checkBatch(_ sealed: SealedBatch, decoder: inout BatchDecoder, reference: inout BatchDecoder) -> Batch? {
    let batch: Batch
    do {
        batch = try decoder.decode(sealed)
    } catch {
        precondition(!error.description.isEmpty)
        precondition((try? decoder.validate(sealed)) == nil, "validate accepts what decode refuses")
        precondition((try? reference.decode(sealed)) == nil, "zlib accepts a batch libdeflate refuses: \(error)")
        return nil
    }
    precondition((try? reference.decode(sealed)) == batch, "zlib decodes a batch differently from libdeflate")
    precondition((try? decoder.validate(sealed)) != nil, "validate refuses what decode accepts")
    precondition(batch.events.count == Int(sealed.eventCount))
    var encoder = BatchEncoder(level: 1)
    guard let again = try? encoder.encode(batch) else { preconditionFailure("a decoded batch does not re-encode") }
    precondition(again.uncompressedSize == sealed.uncompressedSize, "re-encoded body differs in size")
    precondition((try? decoder.decode(again)) == batch, "re-encoded batch decodes differently")
    return batch
}
