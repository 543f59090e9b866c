import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A TCP proxy on 127.0.0.1 that sits between two ferry hops and breaks their connections on request.
///
/// It listens on a port that never changes, so a node behind it can be killed and restarted on a new port
/// (``setBackendPort(_:)``) while the node in front keeps the same upstream address. ``cutAll(afterBytes:)``
/// breaks every live connection in the middle of the byte stream: each direction forwards at most the given
/// number of further bytes (usually part of a frame), then both sockets are shut down. A backend that is down
/// simply makes new connections close at once, as a dead host would.
///
/// Plain blocking sockets and one thread per direction: a proxy must not share the event loops of the
/// code under test, and its behaviour is easier to reason about this way.
public final class ChaosProxy: Sendable {
    /// The port the proxy listens on.
    public let port: Int

    private let listener: Int32
    private let state: Mutex<State>

    private struct State {
        var backendPort: Int?
        var connections: [Int: ProxyConnection] = [:]
        var nextID = 0
        var stopped = false
        var accepted = 0
        var cuts = 0
        /// When set, each direction of each new connection forwards at most this many bytes a second.
        var bytesPerSecond: Int?
    }

    /// Starts a proxy forwarding to `backendPort` (nil: refuse connections until a backend is set).
    public init(backendPort: Int?) throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ChaosProxyError.system("socket", errno) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in.loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            let code = errno
            close(fd)
            throw ChaosProxyError.system("bind/listen", code)
        }
        var actual = sockaddr_in()
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &actual) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.listener = fd
        self.port = Int(UInt16(bigEndian: actual.sin_port))
        self.state = Mutex(State(backendPort: backendPort))
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "chaos-proxy-\(port)-accept"
        thread.start()
    }

    /// Throttles new connections to `bytesPerSecond` in each direction (a slow link); nil lifts the limit.
    public func setRate(bytesPerSecond: Int?) {
        state.withLock { $0.bytesPerSecond = bytesPerSecond }
    }

    /// Points new connections at `port` (nil: close new connections at once). Live ones are left alone.
    public func setBackendPort(_ port: Int?) {
        state.withLock { $0.backendPort = port }
    }

    /// How many connections the proxy has accepted so far.
    public var acceptedConnections: Int { state.withLock { $0.accepted } }

    /// How many connections were cut by ``cutAll(afterBytes:)``.
    public var cutConnections: Int { state.withLock { $0.cuts } }

    /// Breaks every live connection after at most `bytes` more bytes in each direction; a connection that
    /// carries nothing for a while is broken anyway (see ``ProxyConnection/arm(budget:)``).
    public func cutAll(afterBytes bytes: Int) {
        let live = state.withLock { state in
            state.cuts += state.connections.count
            return Array(state.connections.values)
        }
        for connection in live { connection.arm(budget: bytes) }
    }

    /// Stops listening and breaks every connection. Idempotent.
    public func stop() {
        let live: [ProxyConnection] = state.withLock { state in
            guard !state.stopped else { return [] }
            state.stopped = true
            return Array(state.connections.values)
        }
        shutdown(listener, Int32(SHUT_RDWR))
        for connection in live { connection.breakNow() }
    }

    deinit {
        stop()
        close(listener)
    }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 {
                if errno == EINTR || errno == ECONNABORTED { continue }
                return
            }
            let (backendPort, stopped) = state.withLock { ($0.backendPort, $0.stopped) }
            guard !stopped else {
                close(client)
                return
            }
            guard let backendPort, let backend = connectLoopback(port: backendPort) else {
                close(client)
                continue
            }
            var one: Int32 = 1
            setsockopt(client, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            setsockopt(backend, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
            let id = state.withLock { state in
                state.nextID += 1
                state.accepted += 1
                return state.nextID
            }
            let rate = state.withLock { $0.bytesPerSecond }
            let connection = ProxyConnection(client: client, backend: backend, bytesPerSecond: rate) { [weak self] in
                self?.state.withLock { _ = $0.connections.removeValue(forKey: id) }
            }
            state.withLock { $0.connections[id] = connection }
            connection.start(name: "chaos-proxy-\(port)-\(id)")
        }
    }
}

/// One proxied connection: two pumps (client → backend, backend → client) and a cut that either side can pull.
final class ProxyConnection: Sendable {
    private let client: Int32
    private let backend: Int32
    private let onClose: @Sendable () -> Void
    private let bytesPerSecond: Int?
    private let state = Mutex(PumpState())

    private struct PumpState {
        /// Bytes each direction may still forward before the cut; nil when not armed.
        var budget: [Int?] = [nil, nil]
        var broken = false
        var pumpsRunning = 2
    }

    init(client: Int32, backend: Int32, bytesPerSecond: Int? = nil, onClose: @escaping @Sendable () -> Void) {
        self.client = client
        self.backend = backend
        self.bytesPerSecond = bytesPerSecond
        self.onClose = onClose
    }

    func start(name: String) {
        let up = Thread { [self] in pump(from: client, to: backend, direction: 0) }
        up.name = name + "-up"
        let down = Thread { [self] in pump(from: backend, to: client, direction: 1) }
        down.name = name + "-down"
        up.start()
        down.start()
    }

    /// Lets each direction forward at most `budget` more bytes, then breaks the connection. A connection
    /// that stays quiet is broken after 200 ms regardless, so a cut always happens.
    func arm(budget: Int) {
        state.withLock { $0.budget = [budget, budget] }
        let timer = Thread { [self] in
            Thread.sleep(forTimeInterval: 0.2)
            breakNow()
        }
        timer.start()
    }

    /// Shuts both sockets down; the pumps notice, and the last one closes the descriptors.
    func breakNow() {
        let first = state.withLock { state in
            let first = !state.broken
            state.broken = true
            return first
        }
        guard first else { return }
        shutdown(client, Int32(SHUT_RDWR))
        shutdown(backend, Int32(SHUT_RDWR))
    }

    private func pump(from source: Int32, to target: Int32, direction: Int) {
        // Throttled: read a tenth of a second's worth at a time, then wait out the rest of that tenth.
        let chunk = bytesPerSecond.map { max(1, $0 / 10) } ?? 64 * 1024
        var buffer = [UInt8](repeating: 0, count: chunk)
        loop: while true {
            let started = Date()
            let count = buffer.withUnsafeMutableBytes { read(source, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            let allowed: Int = state.withLock { state in
                guard !state.broken else { return 0 }
                guard let budget = state.budget[direction] else { return count }
                let allowed = min(budget, count)
                state.budget[direction] = budget - allowed
                return allowed
            }
            var offset = 0
            while offset < allowed {
                let sent = buffer.withUnsafeBytes { bytes in
                    send(target, bytes.baseAddress.map { $0 + offset }, allowed - offset, Int32(MSG_NOSIGNAL))
                }
                if sent < 0, errno == EINTR { continue }
                guard sent > 0 else { break loop }
                offset += sent
            }
            if allowed < count { break }
            if let bytesPerSecond {
                let due = Double(count) / Double(bytesPerSecond) - Date().timeIntervalSince(started)
                if due > 0 { Thread.sleep(forTimeInterval: due) }
            }
        }
        breakNow()
        let last = state.withLock { state in
            state.pumpsRunning -= 1
            return state.pumpsRunning == 0
        }
        if last {
            close(client)
            close(backend)
            onClose()
        }
    }
}

/// A proxy socket call failed.
public enum ChaosProxyError: Error, CustomStringConvertible {
    /// The call and its errno.
    case system(String, Int32)

    /// The call and the system's words for the error.
    public var description: String {
        switch self {
        case .system(let call, let code): "chaos proxy: \(call) failed: \(String(cString: strerror(code)))"
        }
    }
}
