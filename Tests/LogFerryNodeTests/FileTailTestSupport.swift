import Logging
@testable import LogFerryNode

/// A clock the test moves by hand.
final class ManualClock {
    var instant = ContinuousClock.now

    func advance(by duration: Duration) { instant = instant + duration }
}

extension FileTailer {
    /// A tailer for tests: manual clock, no inotify.
    static func forTesting(
        _ configuration: FileTailerConfiguration,
        checkpoints: [FileCheckpoint] = [],
        clock: ManualClock,
        logger: Logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    ) -> FileTailer {
        FileTailer(configuration: configuration, checkpoints: checkpoints, logger: logger, useInotify: false) {
            clock.instant
        }
    }

    /// Polls until nothing more comes, moving the clock past a rescan between rounds.
    func drain(clock: ManualClock, rounds: Int = 3) -> [TailedLine] {
        var all: [TailedLine] = []
        var quiet = 0
        while quiet < rounds {
            let lines = poll(maxLines: 10_000, maxBytes: 64 << 20)
            if lines.isEmpty {
                quiet += 1
                clock.advance(by: configuration.rescanInterval)
            } else {
                quiet = 0
                all += lines
            }
        }
        return all
    }
}

extension [TailedLine] {
    var texts: [String] { map { String(decoding: $0.line, as: UTF8.self) } }
}
