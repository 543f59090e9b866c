import Foundation
import Logging
import ServiceLifecycle

/// Logs `message N` for N in `first ..< first + count`, paced at `rate` per second when given, then returns; a
/// graceful shutdown (SIGTERM) stops it early. It prints `logged through N` (the last number logged) on the way out.
struct NumberedMessages: Service {
    let first: Int
    let count: Int
    let rate: Double?
    let logger: Logger
    /// How many messages were logged.
    let logged = LoggedCount()

    func run() async throws {
        let started = ContinuousClock.now
        do {
            // SIGTERM stops the logging; what was logged is still stored and shipped by the logging service.
            try await cancelWhenGracefulShutdown { try await logAll() }
        } catch is CancellationError {
            // Stopped early.
        }
        print("logged through \(first + logged.value - 1)")
        let elapsed = ContinuousClock.now - started
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        if rate == nil, logged.value > 0 {
            // Unpaced, the loop is nothing but log calls: their cost as the application sees it.
            print("log calls: \(logged.value) in \(String(format: "%.3f", seconds)) s, \(Int(seconds * 1e9 / Double(logged.value))) ns each")
        }
    }

    private func logAll() async throws {
        let started = ContinuousClock.now
        for index in 0..<count {
            if let rate {
                let due = started + .seconds(Double(index) / rate)
                if due > .now + .milliseconds(2) {
                    try await Task.sleep(until: due, clock: .continuous)
                }
            }
            let number = first + index
            logger.info("message \(number)", metadata: ["number": "\(number)"])
            logged.increment()
        }
    }
}

/// A count one task increments and another reads afterwards.
final class LoggedCount: Sendable {
    private let lock = NSLock()
    private nonisolated(unsafe) var count = 0

    var value: Int { lock.withLock { count } }

    func increment() { lock.withLock { count += 1 } }
}
