import ArgumentParser

/// `logferry bench ...`: the benchmarks behind the figures in Docs/.
///
/// Each benchmark measures LogFerry against a raw baseline (plain write+fdatasync, bare zlib) of the same
/// bytes in the same run and prints the ratio, because absolute figures on shared machines are noise.
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run a benchmark and print figures against a raw baseline measured in the same run.",
        subcommands: [
            SpoolBenchCommand.self,
            WireBenchCommand.self,
            ShipBenchCommand.self,
            PipelineBenchCommand.self,
            DedupBenchCommand.self,
            FilterBenchCommand.self,
            FaninBenchCommand.self,
        ]
    )
}
