import LogFerryWire

extension SpoolIngest {
    /// Adds `events` in order, in one call: a source that takes events in chunks (the LogFerryLogging drain task)
    /// pays one actor hop per chunk instead of one per event. Seals and appends each batch as it fills.
    public func add(contentsOf events: [Event]) async throws {
        for event in events { try await add(event) }
    }
}
