import ArgumentParser
import LogFerryNode
import LogFerrySpool
import Logging

/// Agent input and batching flags.
struct AgentInputOptions: ParsableArguments {
    @Option(name: .long, help: "A file path or glob to tail (repeat for more); files appearing later under a glob are picked up.")
    var file: [String] = []

    @Option(name: .long, help: "A glob of files not to tail although a --file pattern matches them (repeat for more); without a '/' it matches the file name, e.g. '*.gz'.")
    var exclude: [String] = []

    @Flag(name: .long, help: "Read lines from standard input.")
    var stdin = false

    @Option(name: .customLong("syslog-tcp"), help: "HOST:PORT for a syslog TCP listener (RFC 6587 octet counting or newlines).")
    var syslogTCP: String?

    @Option(name: .customLong("syslog-udp"), help: "HOST:PORT for a syslog UDP listener.")
    var syslogUDP: String?

    @Option(name: .customLong("syslog-max-connections"), help: "Syslog TCP connections served at once; more are closed at accept (counted, logged).")
    var syslogMaxConnections: Int = 1024

    @Option(name: .customLong("syslog-idle-timeout"), help: "Seconds a syslog TCP connection may send nothing before it is closed (counted, logged).")
    var syslogIdleTimeout: Int = 300

    @Flag(name: .customLong("exit-when-drained"), help: "When the inputs end, exit 0 once the upstream has acknowledged everything.")
    var exitWhenDrained = false

    @Option(name: .customLong("max-line-bytes"), help: "Cut longer lines here (counted).")
    var maxLineBytes: Int = 1 << 20

    @Option(name: .customLong("batch-events"), help: "Seal a batch at this many events.")
    var batchEvents: Int = 4096

    @Option(name: .customLong("batch-bytes"), help: "Seal a batch at this many uncompressed bytes.")
    var batchBytes: Int = 1 << 20

    @Option(name: .customLong("linger-ms"), help: "Seal a batch this long after its first event.")
    var lingerMilliseconds: Int = 200

    @Option(name: .customLong("compression-level"), help: "Compression level 0 to 9, 1 fastest (ISA-L knows 0 to 3 and uses 3 above).")
    var compressionLevel: Int = 1

    @Option(name: .customLong("compressor"), help: "Deflate library sealing batches: isal (fastest), libdeflate or zlib; the wire format is zlib with any of them.")
    var compressor: String = "isal"

    func apply(to configuration: inout NodeConfiguration) throws {
        configuration.files = file
        configuration.excludes = exclude
        configuration.stdin = stdin
        configuration.syslogTCP = try syslogTCP.map { try ConfigValue.address($0, key: "syslog-tcp") }
        configuration.syslogUDP = try syslogUDP.map { try ConfigValue.address($0, key: "syslog-udp") }
        guard syslogMaxConnections >= 1 else {
            throw ConfigError.badValue(key: "syslog-max-connections", value: "\(syslogMaxConnections)", expected: "at least 1")
        }
        guard syslogIdleTimeout >= 1 else {
            throw ConfigError.badValue(key: "syslog-idle-timeout", value: "\(syslogIdleTimeout)", expected: "at least 1 (seconds)")
        }
        configuration.syslogMaxConnections = syslogMaxConnections
        configuration.syslogIdleTimeoutSeconds = syslogIdleTimeout
        // With no input, `--exit-when-drained` ships the spool's backlog and exits.
        guard !file.isEmpty || stdin || syslogTCP != nil || syslogUDP != nil || exitWhenDrained || configuration.journal || configuration.journalDir != nil else {
            throw ConfigError.missing(key: "--file, --stdin, --syslog-tcp, --syslog-udp, --journal or --journal-dir", role: "an agent")
        }
        configuration.exitWhenDrained = exitWhenDrained
        configuration.maxLineBytes = maxLineBytes
        guard (0...9).contains(compressionLevel) else {
            throw ConfigError.badValue(key: "compression-level", value: "\(compressionLevel)", expected: "0 to 9")
        }
        configuration.batch = BatchPolicy(
            maxEvents: batchEvents,
            maxBytes: batchBytes,
            linger: .milliseconds(lingerMilliseconds),
            compressionLevel: compressionLevel,
            compressor: try ConfigValue.compressor(compressor, key: "compressor")
        )
    }
}

/// `logferry agent`: inputs on an edge host, shipped to a relay or receiver.
struct AgentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent",
        abstract: "Read log lines on this host, spool them durably, and ship them upstream exactly once.",
        discussion: """
            Examples:
              logferry agent --file '/var/log/nginx/*.log' --spool /var/spool/logferry --to relay:7514
              some-program | logferry agent --stdin --exit-when-drained --spool spool/agent --to relay:7514
              logferry agent --file '/var/log/app/*.log' --spool /var/spool/logferry --nats-out nats://n1:4222,nats://n2:4222
            Lines from files are exactly-once across kill -9 (offsets live in the spool). Lines from stdin and
            syslog that are not yet in a sealed batch (at most one linger period) are lost on kill -9.
            """
    )

    @OptionGroup var inputs: AgentInputOptions
    @OptionGroup var filters: LineFilterOptions
    @OptionGroup var journal: JournalOptions
    @OptionGroup var spoolOptions: SpoolOptions
    @OptionGroup var ship: ShipOptions
    @OptionGroup var common: CommonOptions
    @OptionGroup var nats: NATSOptions

    func run() async throws {
        var configuration = NodeConfiguration()
        try spoolOptions.apply(to: &configuration)
        try journal.apply(to: &configuration)
        try inputs.apply(to: &configuration)
        try filters.apply(to: &configuration)
        guard ship.to != nil || nats.natsOut != nil else {
            throw ValidationError("missing --to (or --nats-out): an agent ships to an upstream HOST:PORT or to NATS JetStream")
        }
        guard nats.natsIn == nil else {
            throw ValidationError("--nats-in is for a relay or receiver; an agent reads this host's files, stdin, syslog or journal")
        }
        try ship.apply(to: &configuration)
        try common.apply(to: &configuration)
        try nats.apply(to: &configuration)
        try await NodeRunner.run(configuration, label: "logferry.agent")
    }
}
