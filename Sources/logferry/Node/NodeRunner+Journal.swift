import LogFerryNode
import LogFerrySpool
import LogFerrySystemd
import Logging
import ServiceLifecycle

extension NodeConfiguration {
    /// The journal the agent reads: `journal-dir`, the local journal with `journal`, or none.
    var journalLocation: JournalLocation? {
        if let journalDir { return .directory(journalDir) }
        return journal ? .local : nil
    }
}

extension NodeRunner {
    /// The journal input, when `journal` or `journal-dir` is set; it announces `journal reading LOCATION` once
    /// the journal is open and positioned.
    func journalSources(spool: Spool, readiness: NodeReadiness) -> [any Service] {
        guard let location = configuration.journalLocation else { return [] }
        return [JournalSource(
            spool: spool,
            host: configuration.hostName,
            policy: configuration.batch,
            configuration: JournalSourceConfiguration(
                location: location, matches: configuration.journalMatches, maxLineBytes: configuration.maxLineBytes,
                start: configuration.journalFrom
            ),
            logger: Logger(label: "logferry.journal"),
            onReady: {
                readiness.started(Self.journalStep, detail: "reading \(location)")
                LogFerryRuntime.announce("journal reading \(location)")
            }
        )]
    }
}
