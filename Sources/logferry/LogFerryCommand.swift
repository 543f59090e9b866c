import ArgumentParser

/// The `logferry` command: every node (agent, relay, receiver) and the tools around the spool.
@main
struct LogFerryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logferry",
        abstract: "Ship log lines from edge hosts to a central place: nothing lost, nothing duplicated.",
        version: LogFerryVersion.current,
        subcommands: [
            DemoCommand.self,
            AgentCommand.self,
            RunCommand.self,
            RelayCommand.self,
            ReceiveCommand.self,
            SpoolCommand.self,
            BenchCommand.self,
            StatusCommand.self,
        ]
    )
}

/// The version printed by `--version` and announced in logs.
enum LogFerryVersion {
    static let current = "0.1.0"
}
