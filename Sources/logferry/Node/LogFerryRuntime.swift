import Foundation
import Logging
import Metrics
import Prometheus

/// Process-wide set-up done once by a command before any node code runs: logging to standard error and
/// metrics into a Prometheus registry.
struct LogFerryRuntime {
    let registry: PrometheusCollectorRegistry
    let logger: Logger

    /// Bootstraps swift-log and swift-metrics. Call once per process.
    static func bootstrap(logLevel: String, label: String) -> LogFerryRuntime {
        // A write past a file-size limit must fail with EFBIG (which the spool and the file sink handle as a
        // full disk), not kill the process.
        signal(SIGXFSZ, SIG_IGN)
        let level = Logger.Level(rawValue: logLevel.lowercased()) ?? .info
        LoggingSystem.bootstrap { name in
            var handler = StreamLogHandler.standardError(label: name)
            handler.logLevel = level
            return handler
        }
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        return LogFerryRuntime(registry: registry, logger: Logger(label: label))
    }

    /// Prints one line to standard output at once (tests and scripts read these lines).
    static func announce(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }
}
