import ArgumentParser
import LogFerryNode

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

    /// Sets glibc's malloc up for an agent before any other thread exists (an arena limit set later is not
    /// honoured; Node/MallocProfile.swift says why an agent wants one arena), then parses and runs the command.
    /// Listeners get their malloc settings when their node starts (`NodeRunner`).
    static func main() async {
        if CommandLine.arguments.dropFirst().first == AgentCommand.configuration.commandName {
            MallocProfile.edge.apply()
        }
        await main(nil)
    }
}

/// The version printed by `--version` and announced in logs.
enum LogFerryVersion {
    static let current = "0.1.0"
}
