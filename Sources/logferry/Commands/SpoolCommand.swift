import ArgumentParser

/// `logferry spool ...`: look into a spool directory.
struct SpoolCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "spool",
        abstract: "Inspect and verify a spool directory.",
        subcommands: [
            SpoolInspectCommand.self,
            SpoolVerifyCommand.self,
            SpoolCrashHelperCommand.self,
        ]
    )
}
