import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Sends `GET path` (HTTP/1.1) on the connection `fd` and reads one response: its body, or nil on error or
/// timeout. Reads exactly `Content-Length` bytes of body (or to end of stream without it).
public func httpExchange(_ fd: Int32, path: String, keepAlive: Bool) -> String? {
    let request = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(keepAlive ? "" : "Connection: close\r\n")\r\n".utf8)
    guard request.withUnsafeBytes({ send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }) == request.count else { return nil }
    var response: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    let separator: [UInt8] = [0x0D, 0x0A, 0x0D, 0x0A]
    while true {
        if let end = response.indices.dropLast(3).first(where: { Array(response[$0..<$0 + 4]) == separator }) {
            let head = String(decoding: response[..<end], as: UTF8.self).lowercased()
            let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) }
            if let length, response.count - (end + 4) >= length {
                return String(decoding: response[(end + 4)..<(end + 4 + length)], as: UTF8.self)
            }
        }
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0, errno == EINTR { continue }
        guard n > 0 else { break }
        response.append(contentsOf: buffer[0..<n])
    }
    guard let end = response.indices.dropLast(3).first(where: { Array(response[$0..<$0 + 4]) == separator }) else { return nil }
    return String(decoding: response[(end + 4)...], as: UTF8.self)
}

/// `GET path` on 127.0.0.1:`port` on a fresh connection that is closed afterwards; the body, or nil.
public func httpGet(port: Int, path: String) -> String? {
    guard let fd = connectTCP(port: port) else { return nil }
    defer { close(fd) }
    return httpExchange(fd, path: path, keepAlive: false)
}

/// The sum of every sample of the Prometheus metric `name` (all label sets) in an exposition text.
public func metricValue(_ exposition: String, _ name: String) -> Double? {
    var total: Double?
    for line in exposition.split(separator: "\n") where !line.hasPrefix("#") {
        guard line.hasPrefix(name) else { continue }
        let rest = line.dropFirst(name.count)
        guard rest.first == " " || rest.first == "{" else { continue }
        guard let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { continue }
        total = (total ?? 0) + value
    }
    return total
}

/// The metric `name` (summed over its label sets) from the `/metrics` endpoint on 127.0.0.1:`port`; nil when
/// the endpoint does not answer or has no such metric.
public func scrapeMetric(port: Int, _ name: String) -> Double? {
    httpGet(port: port, path: "/metrics").flatMap { metricValue($0, name) }
}
