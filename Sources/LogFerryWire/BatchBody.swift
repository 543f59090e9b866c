import LogFerryBytes

/// The uncompressed batch body: the bytes the zlib stream of a ``SealedBatch`` holds.
///
/// Layout (Docs/PROTOCOL.md §Batch body), varints are unsigned LEB128, minimally encoded:
///
///     u8      format version (1)
///     varint  host length, host UTF-8
///     varint  source count S, then S × (varint length, UTF-8)        -- in order of first use, all used
///     varint  field-key count K, then K × (varint length, UTF-8)     -- strictly ascending bytewise, all used
///     varint  base timestamp (the first event's; 0 when empty)
///     varint  event count N, then N × event:
///         varint  zigzag(timestamp − previous timestamp), wrapping; the first "previous" is the base
///         varint  source index × 2 + (1 if the event has fields)
///         varint  line length, line bytes
///         if fields: varint F ≥ 1, then F × (varint key index, strictly ascending; varint length, UTF-8 value)
enum BatchBody {
    static let formatVersion: UInt8 = 1

    /// Appends the body of `events` read on `host` to `body` (which the caller has emptied).
    static func write(host: String, events: ArraySlice<Event>, into body: inout [UInt8]) {
        // Borrow the events in place: iterating the slice would copy each event (retaining its line, source and
        // fields) only to release it again, which cost more than the encoding itself.
        events.withUnsafeBufferPointer { write(host: host, events: $0, into: &body) }
    }

    private static func write(host: String, events: UnsafeBufferPointer<Event>, into body: inout [UInt8]) {
        body.append(formatVersion)
        body.appendVarintString(host)

        // Source table, in order of first use; a batch usually has one or a few sources.
        var sources = BatchSourceTable()
        var indices: [Int] = []
        indices.reserveCapacity(events.count)
        var anyFields = false
        for position in events.indices {
            indices.append(sources.index(of: events[position].source))
            anyFields = anyFields || !events[position].fields.isEmpty
        }
        body.appendVarint(UInt64(sources.names.count))
        for source in sources.names { body.appendVarintString(source) }

        // Field-key table, sorted bytewise so each event's fields come out sorted by key.
        var keys: [String] = []
        var keyIndex: [String: Int] = [:]
        if anyFields {
            var keySet = Set<String>()
            for event in events { keySet.formUnion(event.fields.keys) }
            keys = keySet.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
            for (index, key) in keys.enumerated() { keyIndex[key] = index }
        }
        body.appendVarint(UInt64(keys.count))
        for key in keys { body.appendVarintString(key) }

        var previous = events.first?.timestamp ?? 0
        body.appendVarint(previous)
        body.appendVarint(UInt64(events.count))
        for position in events.indices {
            let timestamp = events[position].timestamp
            let hasFields = !events[position].fields.isEmpty
            events[position].line.withUnsafeBytes { line in
                appendEvent(
                    timestamp: timestamp, previous: previous, sourceIndex: indices[position], hasFields: hasFields,
                    line: line, into: &body)
            }
            previous = timestamp
            if hasFields {
                let event = events[position]
                body.appendVarint(UInt64(event.fields.count))
                var fields: [(index: Int, value: String)] = []
                fields.reserveCapacity(event.fields.count)
                for (key, value) in event.fields {
                    // Every key is in the table: it was collected from these very events.
                    fields.append((keyIndex[key] ?? 0, value))
                }
                fields.sort { $0.index < $1.index }
                for field in fields {
                    body.appendVarint(UInt64(field.index))
                    body.appendVarintString(field.value)
                }
            }
        }
    }

    /// Appends one event up to its line (Docs/PROTOCOL.md §Batch body: timestamp delta, source index and
    /// fields flag, line); the caller writes its fields next when `hasFields`. The one encoding of an event,
    /// for ``write(host:events:into:)`` and ``BatchBodyBuilder``.
    @inline(__always)
    static func appendEvent(
        timestamp: UInt64, previous: UInt64, sourceIndex: Int, hasFields: Bool, line: UnsafeRawBufferPointer,
        into body: inout [UInt8]
    ) {
        let delta = Int64(bitPattern: timestamp &- previous)
        // The three varints go into a scratch on the stack and into the body in one append: appending them byte
        // by byte checked the body's uniqueness and capacity for every byte of every event.
        var scratch: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        withUnsafeMutableBytes(of: &scratch) { header in
            var count = Varint.write(UInt64(bitPattern: (delta << 1) ^ (delta >> 63)), into: header, at: 0)
            count = Varint.write(UInt64(sourceIndex) << 1 | (hasFields ? 1 : 0), into: header, at: count)
            count = Varint.write(UInt64(line.count), into: header, at: count)
            body.append(contentsOf: UnsafeRawBufferPointer(rebasing: header[..<count]))
        }
        body.append(contentsOf: line)
    }

    /// Parses a body that must hold exactly `expectedEvents` events and nothing after them, into a ``Batch``.
    ///
    /// With `materialize` false it only checks (the relay path); the returned batch is then empty.
    static func parse(
        _ body: UnsafeRawBufferPointer,
        expectedEvents: UInt32,
        materialize: Bool
    ) throws(WireError) -> Batch {
        var events: [Event] = []
        var sourceNames: [String] = []
        let host = try scan(body, expectedEvents: expectedEvents, fields: materialize) { tables in
            sourceNames = tables.sources
            // Each event takes at least 3 bytes; never reserve more than the body can hold.
            if materialize { events.reserveCapacity(min(Int(expectedEvents), body.count / 3)) }
        } event: { event in
            guard materialize else { return }
            events.append(Event(
                timestamp: event.timestamp, source: sourceNames[event.sourceIndex], line: copy(event.line),
                fields: event.fields))
        }
        return Batch(host: host, events: events)
    }

    /// Parses and checks a body that must hold exactly `expectedEvents` events and nothing after them,
    /// handing each event to `event` as a view into `body` (no copy) once `tables` has seen the batch's
    /// host and source names. Returns the host.
    ///
    /// The views are checked one by one: when this throws, some events may already have been visited, so a
    /// caller that builds output from them discards it on error. With `fields` false, field values are
    /// checked but not turned into dictionaries (``EventView/fields`` is empty).
    /// Nothing is allocated from an unchecked count: every table and event needs at least one byte each,
    /// so reservations are bounded by the body's size, which is bounded by the announced limit.
    static func scan(
        _ body: UnsafeRawBufferPointer,
        expectedEvents: UInt32,
        fields materializeFields: Bool,
        tables: (BatchTables) -> Void,
        event visit: (EventView) -> Void
    ) throws(WireError) -> String {
        let materialize = materializeFields
        var reader = WireReader(body)
        let version = try reader.readUInt8()
        guard version == formatVersion else {
            throw WireError(.malformed("batch body format version \(version) is not \(formatVersion)"))
        }
        let host = try WireReader.string(try reader.readSlice(count: try reader.readVarintLength()), field: "batch host")

        let sourceCount = try reader.readVarintLength()
        var sources: [String] = []
        sources.reserveCapacity(sourceCount)
        for _ in 0..<sourceCount {
            sources.append(try WireReader.string(try reader.readSlice(count: try reader.readVarintLength()), field: "source name"))
        }
        // The encoder writes each source once (Swift string equality, so Unicode-equivalent names are one).
        if sourceCount > 1, Set(sources).count != sourceCount {
            throw WireError(.malformed("source names repeat"))
        }

        let keyCount = try reader.readVarintLength()
        var keys: [String] = []
        keys.reserveCapacity(keyCount)
        var previousKey: UnsafeRawBufferPointer? = nil
        for _ in 0..<keyCount {
            let keyBytes = try reader.readSlice(count: try reader.readVarintLength())
            if let previousKey, !previousKey.lexicographicallyPrecedes(keyBytes) {
                throw WireError(.malformed("field keys are not strictly ascending"))
            }
            previousKey = keyBytes
            keys.append(try WireReader.string(keyBytes, field: "field key"))
        }
        // Bytewise-distinct keys can still be equal Swift strings (canonically equivalent Unicode).
        if keyCount > 1, Set(keys).count != keyCount {
            throw WireError(.malformed("field keys repeat as Unicode-equivalent strings"))
        }

        let base = try reader.readVarint()
        var previous = base
        let eventCount = try reader.readVarint()
        guard eventCount > 0 || base == 0 else { throw WireError(.malformed("empty batch with a base timestamp")) }
        guard eventCount == UInt64(expectedEvents) else {
            throw WireError(.malformed("batch body holds \(eventCount) events but declares \(expectedEvents)"))
        }
        tables(BatchTables(host: host, sources: sources))
        // Canonical form, so a decoded batch re-encodes to the same bytes: the first delta is 0, sources
        // are numbered in order of first use and every source and key is used.
        var sourcesUsed = 0
        var keysUsed = [Bool](repeating: false, count: keyCount)
        var fieldCache = FieldCache()
        for eventIndex in 0..<eventCount {
            let zigzag = try reader.readVarint()
            guard eventIndex > 0 || zigzag == 0 else { throw WireError(.malformed("first event's timestamp is not the base")) }
            let delta = Int64(bitPattern: zigzag >> 1) ^ -Int64(bitPattern: zigzag & 1)
            let timestamp = previous &+ UInt64(bitPattern: delta)
            previous = timestamp
            let sourceAndFlag = try reader.readVarint()
            let sourceIndex = sourceAndFlag >> 1
            guard sourceIndex < UInt64(sources.count), sourceIndex <= UInt64(sourcesUsed) else {
                throw WireError(.malformed("source index \(sourceIndex) outside a table of \(sources.count) or out of first-use order"))
            }
            if sourceIndex == UInt64(sourcesUsed) { sourcesUsed += 1 }
            let line = try reader.readSlice(count: try reader.readVarintLength())
            var fields: [String: String] = [:]
            if sourceAndFlag & 1 == 1 {
                // Pass 1: structure only (counts, key order, bounds), marking the keys used.
                let fieldsStart = reader.offset
                let fieldCount = try reader.readVarintLength()
                guard fieldCount >= 1 else { throw WireError(.malformed("event flagged with fields has none")) }
                guard fieldCount <= keys.count else {
                    throw WireError(.malformed("event has \(fieldCount) fields but there are \(keys.count) keys"))
                }
                var lastKey = -1
                for _ in 0..<fieldCount {
                    let keyIndex = try reader.readVarint()
                    guard keyIndex < UInt64(keys.count), Int(keyIndex) > lastKey else {
                        throw WireError(.malformed("field key index \(keyIndex) out of range or not ascending"))
                    }
                    lastKey = Int(keyIndex)
                    keysUsed[lastKey] = true
                    _ = try reader.readSlice(count: try reader.readVarintLength())
                }
                // Pass 2: the values. Sources repeat the same fields (host, app) line after line, so the
                // same bytes give the same (shared, copy-on-write) dictionary without re-validating.
                let region = UnsafeRawBufferPointer(rebasing: body[fieldsStart..<reader.offset])
                if let cached = fieldCache.lookup(region) {
                    fields = cached
                } else {
                    var values = WireReader(region)
                    _ = try values.readVarint()
                    for _ in 0..<fieldCount {
                        let keyIndex = Int(try values.readVarint())
                        let value = try WireReader.string(try values.readSlice(count: try values.readVarintLength()), field: "field value")
                        if materialize { fields[keys[keyIndex]] = value }
                    }
                    fieldCache.insert(region, fields)
                }
            }
            visit(EventView(
                index: Int(eventIndex), timestamp: timestamp, sourceIndex: Int(sourceIndex), line: line, fields: fields))
        }
        guard sourcesUsed == sources.count, !keysUsed.contains(false) else {
            throw WireError(.malformed("the source or field-key table lists names no event uses"))
        }
        try reader.expectEnd()
        return host
    }

    /// A new array holding `bytes` (one memcpy).
    static func copy(_ bytes: UnsafeRawBufferPointer) -> [UInt8] {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return [] }
        return [UInt8](unsafeUninitializedCapacity: bytes.count) { buffer, initialized in
            UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(start: source, count: bytes.count))
            initialized = bytes.count
        }
    }
}

/// The last few distinct encoded field sets of a batch and their dictionaries.
private struct FieldCache {
    private static let capacity = 8
    private var entries: [(bytes: [UInt8], fields: [String: String])] = []
    private var next = 0

    func lookup(_ bytes: UnsafeRawBufferPointer) -> [String: String]? {
        for entry in entries where entry.bytes.count == bytes.count {
            if entry.bytes.withUnsafeBytes({ $0.elementsEqual(bytes) }) { return entry.fields }
        }
        return nil
    }

    mutating func insert(_ bytes: UnsafeRawBufferPointer, _ fields: [String: String]) {
        if entries.count < Self.capacity {
            entries.append(([UInt8](bytes), fields))
        } else {
            entries[next] = ([UInt8](bytes), fields)
            next = (next + 1) % Self.capacity
        }
    }
}

extension Array where Element == UInt8 {
    /// Appends a varint length and the UTF-8 bytes of `string`.
    mutating func appendVarintString(_ string: String) {
        var string = string
        string.withUTF8 { utf8 in
            appendVarint(UInt64(utf8.count))
            append(contentsOf: utf8)
        }
    }
}
