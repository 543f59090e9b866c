/// A source or a sink of a node: something that runs until it is done or cancelled.
public protocol NodeStage: Sendable {
    /// Runs the stage. Sources return on graceful shutdown or at the end of their input; sinks run until
    /// cancelled and commit what they have done on the way out.
    func run() async throws
}

extension FerryServer: NodeStage {}
extension FerrySink: NodeStage {}
extension FileSink: NodeStage {}
extension StdoutSink: NodeStage {}
