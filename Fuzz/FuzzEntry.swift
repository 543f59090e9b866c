// libFuzzer entry for the frame decoder and the batch decoder (inflate + parse).
//
// Compiled by Fuzz/run.sh together with the NIO-free sources of LogFerryWire, so it calls the same pure
// functions the NIO coders call. Any crash, sanitizer report or failed precondition is a finding.

import LogFerryBytes

private let limits = WireLimits(
    maxFrameBytes: 1 << 16, maxUncompressedBytes: 1 << 20, maxEventsPerBatch: 1 << 12, maxWindow: 8)

@_cdecl("LLVMFuzzerTestOneInput")
public func logferryFuzzOne(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeRawBufferPointer(start: data, count: size)
    var decoder = BatchDecoder(limits: limits)

    // 1. The input as a stream of frames.
    var offset = 0
    while offset < bytes.count {
        let rest = UnsafeRawBufferPointer(rebasing: bytes[offset...])
        guard let decoded = try? Frame.decode(from: rest, maxFrameBytes: limits.maxFrameBytes) else { break }
        // A decoded frame re-encodes to exactly the bytes it came from (one value, one encoding).
        precondition(decoded.frame.encodedBytes() == Array(rest[..<decoded.consumed]), "frame re-encodes differently")
        if case .batch(let frame) = decoded.frame {
            checkBatch(frame.batch, decoder: &decoder)
        }
        offset += decoded.consumed
    }

    // 2. The input as a spool payload (sealed batch), with the CRC made right so inflate and parse run.
    if var sealed = try? SealedBatch(serialized: Array(bytes)) {
        precondition(sealed.serialized() == Array(bytes), "sealed batch re-serializes differently")
        sealed.crc32c = CRC32C.checksum(sealed.compressed)
        checkBatch(sealed, decoder: &decoder)
    }
    // 3. The input as an uncompressed batch body (after a u16 event count), so the parser sees structure
    //    the fuzzer could never get through deflate on its own.
    if bytes.count >= 2 {
        let eventCount = UInt32(bytes[0]) << 8 | UInt32(bytes[1])
        let body = UnsafeRawBufferPointer(rebasing: bytes[2...])
        let deflater = Deflater(level: 1)
        var output = [UInt8](repeating: 0, count: deflater.bound(body.count))
        let produced = output.withUnsafeMutableBytes { try? deflater.compress(body, into: $0) }
        if let produced {
            let compressed = Array(output[..<produced])
            let sealed = SealedBatch(eventCount: eventCount, uncompressedSize: UInt32(body.count),
                                     crc32c: CRC32C.checksum(compressed), compressed: compressed)
            if let batch = checkBatch(sealed, decoder: &decoder) {
                // The body is canonical: re-encoding gives back the very same bytes.
                var encoder = BatchEncoder(level: 1)
                guard let again = try? encoder.encode(batch) else { preconditionFailure("no re-encode") }
                var inflated = [UInt8](repeating: 0, count: Int(again.uncompressedSize))
                let inflater = Inflater()
                _ = again.compressed.withUnsafeBytes { input in
                    inflated.withUnsafeMutableBytes { try? inflater.inflate(input, into: $0) }
                }
                precondition(inflated == Array(body), "batch body is not canonical")
            }
        }
    }
    return 0
}

/// Decodes `sealed`; when it decodes, validate agrees and a re-encode decodes to the same batch.
@discardableResult
private func checkBatch(_ sealed: SealedBatch, decoder: inout BatchDecoder) -> Batch? {
    let batch: Batch
    do {
        batch = try decoder.decode(sealed)
    } catch {
        precondition(!error.description.isEmpty)
        precondition((try? decoder.validate(sealed)) == nil, "validate accepts what decode refuses")
        return nil
    }
    precondition((try? decoder.validate(sealed)) != nil, "validate refuses what decode accepts")
    precondition(batch.events.count == Int(sealed.eventCount))
    var encoder = BatchEncoder(level: 1)
    guard let again = try? encoder.encode(batch) else { preconditionFailure("a decoded batch does not re-encode") }
    precondition(again.uncompressedSize == sealed.uncompressedSize, "re-encoded body differs in size")
    precondition((try? decoder.decode(again)) == batch, "re-encoded batch decodes differently")
    return batch
}
