import CNats

extension NATSConnection {
    /// Makes sure the stream exists: creates it when missing; an existing stream is used as it is, and each of
    /// its settings that differs from `configuration` is reported (the caller logs them as a warning), because
    /// changing a stream someone else set up is an operator's decision.
    public func ensureStream(_ configuration: NATSStreamConfiguration) async throws -> NATSStreamCheck {
        try await perform("ensure stream \(configuration.name)") { _, jetStream in
            if let existing = try Self.streamConfiguration(configuration.name, jetStream: jetStream) {
                return Self.compare(existing, with: configuration)
            }
            do {
                try Self.addStream(configuration, jetStream: jetStream)
                return .created
            } catch let error as NATSError where error.jetStreamCode == 10058 {
                // Created by another publisher meanwhile.
                guard let existing = try Self.streamConfiguration(configuration.name, jetStream: jetStream) else { throw error }
                return Self.compare(existing, with: configuration)
            }
        }
    }

    /// Deletes a stream (tests, and operators cleaning up).
    public func deleteStream(_ name: String) async throws {
        try await perform("delete stream \(name)") { _, jetStream in
            var code = jsErrCode(0)
            let status = js_DeleteStream(jetStream, name, nil, &code)
            guard status == NATS_OK else { throw NATSError.from(status: status, code: code, operation: "delete stream \(name)") }
        }
    }

    /// The number of messages and bytes a stream holds.
    public func streamState(_ name: String) async throws -> (messages: UInt64, bytes: UInt64) {
        try await perform("read stream \(name)") { _, jetStream in
            var info: UnsafeMutablePointer<jsStreamInfo>?
            var code = jsErrCode(0)
            let status = js_GetStreamInfo(&info, jetStream, name, nil, &code)
            guard status == NATS_OK, let info else { throw NATSError.from(status: status, code: code, operation: "read stream \(name)") }
            defer { jsStreamInfo_Destroy(info) }
            return (info.pointee.State.Msgs, info.pointee.State.Bytes)
        }
    }

    /// The configuration of the stream `name`, or nil when there is no such stream.
    static func streamConfiguration(_ name: String, jetStream: OpaquePointer) throws -> NATSStreamConfiguration? {
        var info: UnsafeMutablePointer<jsStreamInfo>?
        var code = jsErrCode(0)
        let status = js_GetStreamInfo(&info, jetStream, name, nil, &code)
        if status == NATS_NOT_FOUND || code == JSStreamNotFoundErr { return nil }
        guard status == NATS_OK, let info else {
            throw NATSError.from(status: status, code: code, operation: "read stream \(name)")
        }
        defer { jsStreamInfo_Destroy(info) }
        guard let config = info.pointee.Config else { return nil }
        var subjects: [String] = []
        for index in 0..<Int(config.pointee.SubjectsLen) {
            if let subject = config.pointee.Subjects?[index] { subjects.append(String(cString: subject)) }
        }
        return NATSStreamConfiguration(
            name: name, subjects: subjects, replicas: Int(config.pointee.Replicas), maxBytes: config.pointee.MaxBytes,
            maxAge: config.pointee.MaxAge > 0 ? .nanoseconds(config.pointee.MaxAge) : nil,
            duplicateWindow: .nanoseconds(config.pointee.Duplicates))
    }

    static func addStream(_ configuration: NATSStreamConfiguration, jetStream: OpaquePointer) throws {
        let operation = "create stream \(configuration.name)"
        try withCStrings(configuration.subjects) { subjects in
            var mutableSubjects = subjects
            try mutableSubjects.withUnsafeMutableBufferPointer { buffer in
                var config = jsStreamConfig()
                jsStreamConfig_Init(&config)
                var info: UnsafeMutablePointer<jsStreamInfo>?
                var code = jsErrCode(0)
                let status = configuration.name.withCString { name in
                    config.Name = name
                    config.Subjects = buffer.baseAddress
                    config.SubjectsLen = Int32(buffer.count)
                    config.Replicas = Int64(max(1, configuration.replicas))
                    config.MaxBytes = configuration.maxBytes
                    config.Discard = js_DiscardNew
                    config.Storage = js_FileStorage
                    config.Duplicates = configuration.duplicateWindow.natsNanoseconds
                    config.MaxAge = configuration.maxAge?.natsNanoseconds ?? 0
                    return js_AddStream(&info, jetStream, &config, nil, &code)
                }
                if let info { jsStreamInfo_Destroy(info) }
                guard status == NATS_OK else { throw NATSError.from(status: status, code: code, operation: operation) }
            }
        }
    }

    /// The differences between an existing stream and the one asked for.
    static func compare(_ existing: NATSStreamConfiguration, with wanted: NATSStreamConfiguration) -> NATSStreamCheck {
        var differences: [String] = []
        let missing = wanted.subjects.filter { !existing.subjects.contains($0) }
        if !missing.isEmpty {
            differences.append("subjects are \(existing.subjects), not \(wanted.subjects) (messages on \(missing) are not stored)")
        }
        if existing.replicas != wanted.replicas {
            differences.append("replicas are \(existing.replicas), not \(wanted.replicas)")
        }
        if existing.maxBytes != wanted.maxBytes {
            differences.append("max bytes is \(existing.maxBytes), not \(wanted.maxBytes)")
        }
        if existing.maxAge != wanted.maxAge {
            differences.append("max age is \(existing.maxAge.map { "\($0)" } ?? "unlimited"), not \(wanted.maxAge.map { "\($0)" } ?? "unlimited")")
        }
        return differences.isEmpty ? .matches : .differs(differences)
    }
}
