// libFuzzer entry for the frame decoder and the batch decoder (inflate + parse).
//
// Compiled by Fuzz/run.sh together with the NIO-free sources of LogFerryWire, so it calls the same pure
// functions the NIO coders call. Any crash, sanitizer report or failed precondition is a finding.

import LogFerrySpool

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
    return 0
}

/// Decodes `sealed`; when it decodes, validate agrees and a re-encode decodes to the same batch.
private func checkBatch(_ sealed: SealedBatch, decoder: inout BatchDecoder) {
    let batch: Batch
    do {
        batch = try decoder.decode(sealed)
    } catch {
        precondition(!error.description.isEmpty)
        precondition((try? decoder.validate(sealed)) == nil, "validate accepts what decode refuses")
        return
    }
    precondition((try? decoder.validate(sealed)) != nil, "validate refuses what decode accepts")
    precondition(batch.events.count == Int(sealed.eventCount))
    var encoder = BatchEncoder(level: 1)
    guard let again = try? encoder.encode(batch) else { preconditionFailure("a decoded batch does not re-encode") }
    precondition(again.uncompressedSize == sealed.uncompressedSize, "re-encoded body differs in size")
    precondition((try? decoder.decode(again)) == batch, "re-encoded batch decodes differently")
}
