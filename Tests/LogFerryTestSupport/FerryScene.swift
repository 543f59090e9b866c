import Foundation

/// Everything one end-to-end test starts, torn down in one place whatever happens: ferry nodes, proxies, other
/// child processes and the temporary directory.
///
/// ```swift
/// try await FerryScene.run("fan-in") { scene in
///     let receiver = try await scene.node("receiver", ["receive", "--spool", try scene.path("spool"), "--out", out])
///     ...
/// }
/// ```
/// `LOGFERRY_KEEP_TEST_DIRS=1` keeps the directory (spools, outputs, every process's standard error).
public final class FerryScene: @unchecked Sendable {
    /// The test's directory: spools, outputs, logs, certificates.
    public let directory: TemporaryDirectory
    /// Child processes the test starts itself (agents, receivers, tools): all killed at teardown.
    public let children = ChildProcesses()
    private var nodes: [FerryNode] = []
    private var proxies: [ChaosProxy] = []

    /// A scene with a fresh directory named after `label`; prefer ``run(_:_:)``, which also tears it down.
    public init(_ label: String) throws {
        directory = try TemporaryDirectory(label)
    }

    /// A path inside the test directory (created as a directory when `create` is set).
    public func path(_ name: String, create: Bool = false) throws -> String {
        let path = directory.file(name)
        if create { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        return path
    }

    /// Starts a node (`arguments[0]` is the subcommand) and registers it for teardown.
    public func node(_ name: String, _ arguments: [String]) async throws -> FerryNode {
        let node = FerryNode(name: name, arguments: arguments, logDirectory: directory.path)
        nodes.append(node)
        try await node.start()
        return node
    }

    /// Starts a proxy and registers it for teardown.
    public func proxy(to port: Int?) throws -> ChaosProxy {
        let proxy = try ChaosProxy(backendPort: port)
        proxies.append(proxy)
        return proxy
    }

    /// The standard error of every node, for a failure message.
    public func diagnostics() -> String {
        nodes.map { $0.allStandardError() }.joined()
    }

    /// Every line in which a child of this scene (its standard error, `*.stderr.log` in the scene's directory)
    /// reported a segment missing from the middle of a spool: lost records, which no scene here causes on purpose.
    public func spoolGapReports() -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        return names.filter { $0.hasSuffix(".stderr.log") }.sorted().flatMap { name -> [String] in
            guard let data = FileManager.default.contents(atPath: directory.file(name)) else { return [] }
            return String(decoding: data, as: UTF8.self).split(separator: "\n")
                .filter { $0.contains("segment missing from the middle") }
                .map { "\(name): \($0)" }
        }
    }

    /// Kills every child and node, stops every proxy and deletes the directory.
    public func tearDown() async {
        children.killAll()
        for node in nodes { await node.kill9() }
        for proxy in proxies { proxy.stop() }
        if ProcessInfo.processInfo.environment["LOGFERRY_KEEP_TEST_DIRS"] == nil {
            directory.remove()
        } else {
            print("kept \(directory.path)")
        }
    }

    /// Runs `body` with a fresh scene and always tears it down; when `body` throws, prints every node's standard
    /// error first (when there are nodes). A spool gap any child reported fails the scene even when `body` passed:
    /// the test saw every line arrive, but an operator would have been told that records were lost.
    public static func run<T: Sendable>(_ label: String, _ body: (FerryScene) async throws -> T) async throws -> T {
        let scene = try FerryScene(label)
        do {
            let result = try await body(scene)
            let gaps = scene.spoolGapReports()
            await scene.tearDown()
            guard gaps.isEmpty else {
                throw HarnessError("a child reported a spool gap (records lost) in \(label):\n" + gaps.prefix(5).joined(separator: "\n"))
            }
            return result
        } catch {
            let diagnostics = scene.diagnostics()
            if !diagnostics.isEmpty { print(diagnostics) }
            await scene.tearDown()
            throw error
        }
    }
}
