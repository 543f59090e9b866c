import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// `logferry status URL...`: what running nodes are doing, read from their metrics endpoints (`--metrics-listen`),
/// for a host reached over SSH where nobody runs Prometheus.
///
/// For each node: its inputs and their rates, the spool (bytes, backlog per cursor, age of the oldest
/// unacknowledged batch), each upstream's connection state and the last ack, drops and quarantines. On a terminal
/// it redraws every `--interval` seconds until interrupted; otherwise, or with `--once`, it prints one snapshot
/// (two scrapes `--sample` seconds apart, for the rates). A node that cannot be read is shown as unreachable.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show what running nodes are doing, from their metrics endpoints (--metrics-listen)."
    )

    @Argument(help: "Metrics endpoints: http://HOST:PORT/metrics or HOST:PORT.")
    var urls: [String]

    @Flag(help: "Print one snapshot and exit (the default when standard output is not a terminal).")
    var once = false

    @Option(help: "Seconds between redraws on a terminal.")
    var interval: Double = 2

    @Option(help: "Seconds between the two scrapes of a snapshot (for the rates).")
    var sample: Double = 1

    func validate() throws {
        guard !urls.isEmpty else { throw ValidationError("give at least one metrics URL, e.g. http://127.0.0.1:9100/metrics") }
        for url in urls where MetricsURL(parsing: url) == nil {
            throw ValidationError("'\(url)' is not a metrics URL; give http://HOST:PORT/metrics or HOST:PORT")
        }
        guard interval > 0, sample >= 0 else { throw ValidationError("--interval must be positive and --sample not negative") }
    }

    func run() async throws {
        let endpoints = urls.compactMap { MetricsURL(parsing: $0) }
        // Rates need two scrapes; `--sample 0` shows the counts alone.
        var previous: [Result<MetricsSnapshot, MetricsFetchError>]?
        if sample > 0 {
            previous = await Self.scrape(endpoints)
            try await Task.sleep(for: .seconds(sample))
        }
        let live = !once && isatty(STDOUT_FILENO) == 1
        while true {
            let current = await Self.scrape(endpoints)
            var text = live ? "\u{1B}[H\u{1B}[2J" : ""
            if live { text += "logferry status, every \(interval) s (Ctrl-C to stop)\n" }
            for (index, endpoint) in endpoints.enumerated() {
                switch current[index] {
                case .success(let snapshot):
                    let before = try? previous?[index].get()
                    text += NodeStatusReport(url: endpoint, previous: before, current: snapshot).lines().joined(separator: "\n") + "\n"
                case .failure(let error):
                    text += NodeStatusReport.unreachable(endpoint, reason: "\(error)").joined(separator: "\n") + "\n"
                }
            }
            FileHandle.standardOutput.write(Data(text.utf8))
            guard live else { return }
            previous = current
            try await Task.sleep(for: .seconds(interval))
        }
    }

    /// Scrapes every endpoint at once.
    static func scrape(_ endpoints: [MetricsURL]) async -> [Result<MetricsSnapshot, MetricsFetchError>] {
        await withTaskGroup(of: (Int, Result<MetricsSnapshot, MetricsFetchError>).self) { group in
            for (index, endpoint) in endpoints.enumerated() {
                group.addTask {
                    do {
                        let text = try await MetricsFetcher.fetch(endpoint)
                        return (index, .success(MetricsSnapshot(parsing: text)))
                    } catch let error as MetricsFetchError {
                        return (index, .failure(error))
                    } catch {
                        return (index, .failure(MetricsFetchError(description: "\(error)")))
                    }
                }
            }
            var results = [Result<MetricsSnapshot, MetricsFetchError>](
                repeating: .failure(MetricsFetchError(description: "not scraped")), count: endpoints.count)
            for await (index, result) in group { results[index] = result }
            return results
        }
    }
}
