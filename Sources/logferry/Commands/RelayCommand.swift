import ArgumentParser

/// `logferry relay`: a ferry listener and a ferry sink, for a hop between networks.
struct RelayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "relay",
        abstract: "Take batches from agents or relays, store them durably, and forward them to the next hop.",
        discussion: "Prints 'listening on HOST:PORT' once ready. Batches are forwarded as the same bytes the edge compressed."
    )

    @OptionGroup var listen: ListenOptions
    @OptionGroup var spoolOptions: SpoolOptions
    @OptionGroup var ship: ShipOptions
    @OptionGroup var common: CommonOptions
    @OptionGroup var nats: NATSOptions

    func run() async throws {
        var configuration = NodeConfiguration()
        try spoolOptions.apply(to: &configuration)
        try listen.apply(to: &configuration)
        try ship.apply(to: &configuration)
        try common.apply(to: &configuration)
        try nats.apply(to: &configuration)
        guard configuration.takesBatchesIn else {
            throw ValidationError("missing --listen (or --nats-in): a relay needs a source")
        }
        guard !configuration.to.isEmpty || !configuration.natsOut.isEmpty else {
            throw ValidationError("missing --to (or --nats-out): a relay forwards to a next hop")
        }
        try await NodeRunner.run(configuration, label: "logferry.relay")
    }
}
