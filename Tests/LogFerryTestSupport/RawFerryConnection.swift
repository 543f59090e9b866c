import LogFerryWire
import NIOCore
import NIOPosix

/// A bare TCP connection to a ferry listener that speaks frames by hand, for the hostile-peer tests.
///
/// It reads with the real ``Frame`` decoder and writes either frames or any bytes at all.
///
/// `@unchecked Sendable` so a test can write on one task while it reads on another: the writer touches only
/// the (Sendable) outbound writer, the reader only the inbound iterator and its buffer.
public final class RawFerryConnection: @unchecked Sendable {
    private var inbound: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var buffer = ByteBuffer()

    private init(inbound: NIOAsyncChannelInboundStream<ByteBuffer>, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.inbound = inbound.makeAsyncIterator()
        self.outbound = outbound
    }

    /// Connects to 127.0.0.1:`port`, runs `body`, and closes the connection.
    public static func with<T: Sendable>(port: Int, _ body: (RawFerryConnection) async throws -> T) async throws -> T {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connect(host: "127.0.0.1", port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        return try await channel.executeThenClose { inbound, outbound in
            try await body(RawFerryConnection(inbound: inbound, outbound: outbound))
        }
    }

    /// The next frame from the server, or nil when the server closed the connection (cleanly or not)
    /// before a whole frame arrived.
    public func nextFrame() async throws -> Frame? {
        while true {
            if let frame = try Frame.decode(from: &buffer, maxFrameBytes: WireLimits.default.maxFrameBytes) {
                return frame
            }
            let chunk: ByteBuffer?
            do {
                chunk = try await inbound.next()
            } catch {
                return nil
            }
            guard var chunk else { return nil }
            buffer.writeBuffer(&chunk)
        }
    }

    /// The next frame that is not a heartbeat, or nil when the server closed the connection: what the server
    /// answered. After the welcome the server also heartbeats on its own every 5 s, which a slow machine can
    /// put before the answer a test waits for.
    public func nextAnswer() async throws -> Frame? {
        while let frame = try await nextFrame() {
            if frame != .heartbeat { return frame }
        }
        return nil
    }

    /// Frames until the server closes the connection.
    public func framesUntilClosed() async throws -> [Frame] {
        var frames: [Frame] = []
        while let frame = try await nextFrame() { frames.append(frame) }
        return frames
    }

    /// Sends one frame.
    public func send(_ frame: Frame) async throws {
        var out = ByteBuffer()
        frame.encode(into: &out)
        try await outbound.write(out)
    }

    /// Sends raw bytes.
    public func send(bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    /// Reads the server hello; fails the test run if the server opens with anything else.
    public func serverHello() async throws -> ServerHello {
        guard let frame = try await nextFrame() else { throw RawFerryError.closed("before the server hello") }
        guard case .serverHello(let hello) = frame else { throw RawFerryError.unexpected(frame) }
        return hello
    }

    /// Reads the server hello and answers it as a well-behaved client would (right version, proof from
    /// `key`); returns the server's answer (a welcome or a refusal).
    public func handshake(spoolID: [UInt8], hostName: String, key: [UInt8]?, version: UInt16 = ProtocolVersion.current) async throws -> Frame? {
        let hello = try await serverHello()
        let proof = key.map { HandshakeAuth.proof(key: $0, nonce: hello.nonce, spoolID: spoolID, hostName: hostName) } ?? []
        try await send(.clientHello(ClientHello(version: version, spoolID: spoolID, hostName: hostName, proof: proof)))
        return try await nextFrame()
    }
}

/// A raw connection went other than expected.
public enum RawFerryError: Error, CustomStringConvertible {
    /// The server closed the connection; when.
    case closed(String)
    /// The server sent this frame where another was due.
    case unexpected(Frame)

    /// What the server did.
    public var description: String {
        switch self {
        case .closed(let when): "the server closed the connection \(when)"
        case .unexpected(let frame): "unexpected \(frame.kind) frame: \(frame)"
        }
    }
}
