import NIOCore
#if canImport(Glibc)
import Glibc
#endif

/// How many bytes of a ferry connection the peer's TCP stack has acknowledged (Linux `TCP_INFO`,
/// `tcpi_bytes_acked`): the measure of progress on the wire. A sender on a slow link (a 500 KB frame over
/// 10 KB/s) sees it grow although no ferry ack can come until the frame is complete; a frozen peer stops
/// taking bytes once its receive buffer is full, so it stops growing.
struct WireProgress: Sendable {
    /// Bytes the peer must take between two checks for the connection to count as moving (about 0.5 KB/s).
    static let minimumBytesPerTick: UInt64 = 512

    /// The start of Linux's `struct tcp_info`, through `tcpi_bytes_acked` (kernel 4.1 and later). Glibc's
    /// declaration of the struct ends before that field, so it is read by offset.
    private struct TCPInfoPrefix: Sendable {
        var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64,
                    UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    }

    /// Bytes acknowledged by the peer's TCP so far, or nil when the platform does not tell.
    static func bytesAcknowledged(_ channel: any Channel) async -> UInt64? {
        guard let provider = channel as? SocketOptionProvider else { return nil }
        do {
            let info: TCPInfoPrefix = try await provider.unsafeGetSocketOption(
                level: SocketOptionLevel(IPPROTO_TCP), name: SocketOptionName(TCP_INFO)
            ).get()
            return info.words.15
        } catch {
            return nil
        }
    }
}
