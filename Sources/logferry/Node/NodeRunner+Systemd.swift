import LogFerryNode
import LogFerrySpool
import LogFerrySystemd
import Logging
import ServiceLifecycle

extension NodeRunner {
    /// The readiness step of the ferry listener.
    static let ferryListenerStep = "ferry listener"
    /// The readiness step of the journal source.
    static let journalStep = "journal"

    /// The start-up steps before `READY=1`: every listener bound, the journal opened and positioned.
    var readinessSteps: [String] {
        var steps: [String] = []
        if configuration.listen != nil { steps.append(Self.ferryListenerStep) }
        if configuration.syslogTCP != nil { steps.append("syslog tcp") }
        if configuration.syslogUDP != nil { steps.append("syslog udp") }
        if configuration.journalLocation != nil { steps.append(Self.journalStep) }
        return steps
    }

    /// The sd_notify service when systemd started the node with a notification socket; none otherwise.
    func systemdServices(spool: Spool, readiness: NodeReadiness) -> [any Service] {
        guard let notifier = SystemdNotifier.fromEnvironment() else { return [] }
        return [SystemdNotifyService(
            notifier: notifier,
            readiness: readiness,
            watchdogTimeout: notifier.watchdogTimeout,
            probe: SystemdNotifyService.spoolProbe(spool),
            logger: Logger(label: "logferry.systemd")
        )]
    }
}
