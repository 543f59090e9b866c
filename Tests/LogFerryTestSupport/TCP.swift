import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The port of `HOST:PORT`.
public func portOf(_ address: String) -> Int? {
    guard let colon = address.lastIndex(of: ":") else { return nil }
    return Int(address[address.index(after: colon)...].trimmingCharacters(in: .whitespaces))
}

/// A TCP port on 127.0.0.1 that was free a moment ago, for a process that must be started on a known port.
///
/// Taken below the kernel's ephemeral range when there is room there: a port from that range (what binding port 0
/// gives) can meanwhile become the source port of any outgoing connection on the machine. A parallel test's
/// connection then holds it when the process binds ("Address already in use"), or an agent retrying a port nobody
/// listens on yet connects to itself. Falls back to binding port 0.
public func freeTCPPort() throws -> Int {
    let ephemeralStart = (try? String(contentsOfFile: "/proc/sys/net/ipv4/ip_local_port_range", encoding: .utf8))
        .flatMap { Int($0.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).first ?? "") } ?? 32768
    if ephemeralStart > 12_000 {
        for _ in 0..<200 {
            let port = Int.random(in: 10_000..<ephemeralStart)
            if try bindLoopback(port: port) != nil { return port }
        }
    }
    guard let port = try bindLoopback(port: 0) else { throw HarnessError("bind to port 0: \(errno)") }
    return port
}

/// Binds a TCP socket to 127.0.0.1:`port` and closes it: the port bound (`port`, or the one picked for 0), or nil
/// when that port is taken.
private func bindLoopback(port: Int) throws -> Int? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw HarnessError("socket: \(errno)") }
    defer { close(fd) }
    var address = sockaddr_in.loopback(port: port)
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { return nil }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A plain TCP connection to 127.0.0.1:`port` with a receive timeout, or nil when nothing listens. The caller
/// closes the descriptor.
public func connectTCP(port: Int, receiveTimeoutSeconds: Int = 10) -> Int32? {
    guard let fd = connectLoopback(port: port) else { return nil }
    var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    return fd
}

/// A blocking TCP connection to 127.0.0.1:`port` without timeouts, or nil when nothing listens.
func connectLoopback(port: Int) -> Int32? {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    var address = sockaddr_in.loopback(port: port)
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard connected == 0 else {
        close(fd)
        return nil
    }
    return fd
}

extension sockaddr_in {
    /// 127.0.0.1:`port`.
    static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        return address
    }
}
