import Foundation
import Logging
import ServiceLifecycle

/// Logs `message N` for N in `first ..< first + count`, paced at `rate` per second when given, then returns.
struct NumberedMessages: Service {
    let first: Int
    let count: Int
    let rate: Double?
    let logger: Logger

    func run() async throws {
        do {
            // SIGTERM stops the logging; what was logged is still stored and shipped by the logging service.
            try await cancelWhenGracefulShutdown { try await logAll() }
        } catch is CancellationError {
            return
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
        }
        print("logged through \(first + count - 1)")
    }
}
