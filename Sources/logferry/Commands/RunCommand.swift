import ArgumentParser

/// `logferry run --config FILE`: any node (agent, relay, receiver) from a TOML file.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a node described by a TOML file (keys are the long flag names; see Docs/CONFIGURATION.md).",
        discussion: "Examples: Docs/examples/agent.toml, relay.toml, receiver.toml."
    )

    @Option(name: .long, help: "The TOML configuration file.")
    var config: String

    @Flag(name: .long, help: "Check the file and exit: 0 when it is valid, 1 with the error otherwise.")
    var check = false

    func run() async throws {
        let configuration = try ConfigFile.load(path: config)
        if check {
            LogFerryRuntime.announce("\(config): ok")
            return
        }
        try await NodeRunner.run(configuration, label: "logferry.node")
    }
}
