import Foundation
import LogFerryTestSupport
import Testing

/// The systemd units of Docs/examples/systemd pass `systemd-analyze verify` with no warning, keep the promised
/// settings (notify, watchdog, a dedicated user, a state directory, a read-only system), and their TOML files
/// pass `logferry run --check`.
@Suite("systemd units in Docs/examples/systemd")
struct SystemdUnitTests {
    static let analyze = "/usr/bin/systemd-analyze"
    static let roles = ["agent", "relay", "receiver"]

    static func examples() -> String { packageRoot() + "/Docs/examples/systemd" }

    @Test("systemd-analyze verify passes without a warning, ExecStart pointing at the binary under test", arguments: roles)
    func verify(role: String) async throws {
        guard FileManager.default.isExecutableFile(atPath: Self.analyze) else {
            print("SKIPPED: \(Self.analyze) is not installed (Debian package systemd); the unit for \(role) was not verified")
            return
        }
        let directory = try TemporaryDirectory("unit-verify")
        defer { directory.remove() }
        let children = ChildProcesses()
        defer { children.killAll() }
        let text = try String(contentsOfFile: Self.examples() + "/logferry-\(role).service", encoding: .utf8)
        // verify checks that ExecStart's program exists: point it at the logferry just built, change nothing else.
        #expect(text.contains("ExecStart=/usr/local/bin/logferry run --config /etc/logferry/\(role).toml"))
        let unit = directory.file("logferry-\(role).service")
        try text.replacingOccurrences(of: "/usr/local/bin/logferry", with: LogFerryProcess.binaryPath)
            .write(toFile: unit, atomically: true, encoding: .utf8)
        let run = try await ToolProcess.run(
            Self.analyze, ["verify", "--man=no", unit], outputPrefix: directory.file("verify"), children: children, timeout: .seconds(60)
        )
        #expect(run.status == 0, "systemd-analyze verify: \(run.stdout)\(run.stderr)")
        #expect(run.stderr.isEmpty && run.stdout.isEmpty, "systemd-analyze verify warned: \(run.stdout)\(run.stderr)")
    }

    @Test("each unit: Type=notify, a watchdog, restart on failure, user logferry, StateDirectory, a read-only system", arguments: roles)
    func settings(role: String) throws {
        let text = try String(contentsOfFile: Self.examples() + "/logferry-\(role).service", encoding: .utf8)
        let lines = Set(text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for required in [
            "Type=notify", "WatchdogSec=30s", "Restart=on-failure", "User=logferry", "Group=logferry", "StateDirectory=logferry",
            "ProtectSystem=strict", "ProtectHome=yes", "NoNewPrivileges=yes", "PrivateTmp=yes", "CapabilityBoundingSet=",
        ] {
            #expect(lines.contains(required), "logferry-\(role).service lacks \(required)")
        }
        #expect(lines.contains("SupplementaryGroups=adm systemd-journal") == (role == "agent"), "only the agent reads logs")
    }

    @Test("the TOML files the units run pass logferry run --check, and keep their spool under /var/lib/logferry", arguments: roles)
    func configurations(role: String) async throws {
        let path = Self.examples() + "/\(role).toml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        #expect(text.contains("spool = \"/var/lib/logferry/\(role)\""))
        let check = try LogFerryProcess(["run", "--config", path, "--check"])
        let output = await check.remainingLines()
        #expect(await check.wait() == .exited(0), "\(output)")
        #expect(output == ["\(path): ok"])
    }
}
