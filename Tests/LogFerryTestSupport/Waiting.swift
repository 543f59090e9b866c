/// Runs `body`, failing with ``DeadlineExceeded`` if it takes longer than `deadline` (`body` is cancelled then).
/// Deadlines here only stop a broken test from hanging; they are set far above what a healthy run needs.
public func withDeadline<T: Sendable>(
    _ deadline: Duration,
    _ what: String,
    _ body: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: deadline)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw DeadlineExceeded(what: what, deadline: deadline)
        }
        return value
    }
}

/// A wait in a test did not finish within its (generous) deadline.
public struct DeadlineExceeded: Error, CustomStringConvertible {
    /// What the test was waiting for.
    public var what: String
    /// How long it waited.
    public var deadline: Duration
    /// `gave up waiting for WHAT after DEADLINE`.
    public var description: String { "gave up waiting for \(what) after \(deadline)" }
}

/// Polls `condition` every 50 ms until it holds, throwing ``DeadlineExceeded`` after `deadline` (a condition
/// that hangs is cancelled then too).
public func waitUntil(_ what: String, deadline: Duration, _ condition: @escaping @Sendable () async throws -> Bool) async throws {
    try await withDeadline(deadline, what) {
        while try await !condition() {
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}

/// Polls `condition` every `interval` until it holds (true) or `timeout` passes (false), for a test that reports
/// the miss itself. The deadline only turns a hang into a failure; it is never what the test asserts.
public func waitUntil(
    timeout: Duration,
    interval: Duration = .milliseconds(200),
    _ condition: () async throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: interval)
    }
}
