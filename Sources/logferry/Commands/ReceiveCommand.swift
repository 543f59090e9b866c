import ArgumentParser

/// `logferry receive`: a ferry listener and a file sink, the end of the line.
struct ReceiveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "receive",
        abstract: "Take batches from agents or relays and write their events to files, exactly once.",
        discussion: "Events go to OUT/<origin host>/<source>.log. Prints 'listening on HOST:PORT' once ready."
    )

    @OptionGroup var listen: ListenOptions
    @OptionGroup var spoolOptions: SpoolOptions
    @OptionGroup var common: CommonOptions
    @OptionGroup var nats: NATSOptions

    @Option(name: .long, help: "Output directory for the file sink.")
    var out: String

    @Option(name: .long, help: "raw (one line per event, newlines escaped) or json (ts, host, source, line).")
    var format: String = "raw"

    @Option(name: .customLong("rotate-bytes"), help: "Rotate output files at this size.")
    var rotateBytes: Int = 256 << 20

    @Flag(name: .customLong("keep-outputs-cached"), help: "Leave output files in the page cache once durable (by default their pages are dropped: nothing reads them back soon).")
    var keepOutputsCached = false

    @Flag(name: .long, help: "Also write events to standard output.")
    var stdout = false

    func run() async throws {
        var configuration = NodeConfiguration()
        try spoolOptions.apply(to: &configuration)
        try listen.apply(to: &configuration)
        try common.apply(to: &configuration)
        try nats.apply(to: &configuration)
        guard configuration.takesBatchesIn else {
            throw ValidationError("missing --listen (or --nats-in): a receiver needs a source")
        }
        configuration.out = out
        configuration.format = try ConfigValue.format(format, key: "format")
        configuration.rotateBytes = rotateBytes
        configuration.keepOutputsCached = keepOutputsCached
        configuration.stdout = stdout
        try await NodeRunner.run(configuration, label: "logferry.receive")
    }
}
