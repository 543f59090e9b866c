import CNats
import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Logging

/// A connection to a NATS cluster with a JetStream context: the one owner of the C client's handles.
///
/// Every call into the C client runs on this connection's own serial dispatch queue, never on a NIO event loop or
/// a thread of Swift's cooperative pool: the client's calls block (a publish waits for its ack, a fetch for its
/// messages). Callers `await` the results. The client reconnects on its own after a server is lost, to any server
/// of the cluster, with backoff and full jitter (``NATSConnectionOptions``).
public final class NATSConnection: Sendable {
    /// The server URLs this connection was made with.
    public let servers: [String]
    let options: NATSConnectionOptions
    let queue: DispatchQueue
    let handles: Handles
    let callbacks: NATSCallbacks
    let logger: Logger

    /// The C handles; touched only on ``queue``.
    final class Handles: @unchecked Sendable {
        var connection: OpaquePointer?
        var jetStream: OpaquePointer?

        init(connection: OpaquePointer?, jetStream: OpaquePointer?) {
            self.connection = connection
            self.jetStream = jetStream
        }
    }

    private init(options: NATSConnectionOptions, queue: DispatchQueue, handles: Handles, callbacks: NATSCallbacks, logger: Logger) {
        self.servers = options.servers
        self.options = options
        self.queue = queue
        self.handles = handles
        self.callbacks = callbacks
        self.logger = logger
    }

    /// Connects to the first reachable server of `options.servers` and opens a JetStream context.
    ///
    /// - Throws: ``NATSError`` of kind `noServers` when none answers (the caller retries with its own backoff).
    public static func connect(_ options: NATSConnectionOptions, logger: Logger) async throws -> NATSConnection {
        let queue = DispatchQueue(label: "logferry.nats.\(options.name)")
        let list = natsRedacted(options.servers.joined(separator: ","))
        let callbacks = NATSCallbacks(
            logger: logger, servers: list, reconnectBase: options.reconnectBase, reconnectCap: options.reconnectCap)
        let handles = try await run(on: queue) { () throws -> Handles in
            try open(options, callbacks: callbacks, list: list)
        }
        return NATSConnection(options: options, queue: queue, handles: handles, callbacks: callbacks, logger: logger)
    }

    /// Runs `body` on `queue` and resumes the caller with its result.
    static func run<T: Sendable>(on queue: DispatchQueue, _ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    /// Runs `body` with the live handles on the connection's queue; a closed connection is an error.
    func perform<T: Sendable>(
        _ operation: String, _ body: @escaping @Sendable (_ connection: OpaquePointer, _ jetStream: OpaquePointer) throws -> T
    ) async throws -> T {
        try await Self.run(on: queue) { [handles] in
            guard let connection = handles.connection, let jetStream = handles.jetStream else {
                throw NATSError(kind: .disconnected, operation: operation, detail: "the connection was closed by this process")
            }
            do {
                return try body(connection, jetStream)
            } catch var error as NATSError where error.kind == .timeout || error.kind == .other {
                // A denied publish (a JetStream API request, a message) is answered by the server asynchronously
                // with -ERR, and the caller only sees its reply time out: name the real cause.
                if let violation = Self.permissionViolation(connection) {
                    error.kind = .permissionDenied
                    error.detail = violation
                }
                throw error
            }
        }
    }

    /// The connection's last asynchronous error when it is a permissions violation.
    static func permissionViolation(_ connection: OpaquePointer) -> String? {
        var text: UnsafePointer<CChar>?
        _ = natsConnection_GetLastError(connection, &text)
        guard let text else { return nil }
        let message = String(cString: text)
        return message.lowercased().contains("permissions violation") ? message : nil
    }

    private static func open(_ options: NATSConnectionOptions, callbacks: NATSCallbacks, list: String) throws -> Handles {
        let operation = "connect to \(list)"
        try NATSLibrary.load(operation: operation)
        var natsOptions: OpaquePointer?
        try check(natsOptions_Create(&natsOptions), operation)
        defer { natsOptions_Destroy(natsOptions) }
        let closure = callbacks.pointer
        try withCStrings(options.servers) { pointers in
            var mutable = pointers
            try check(natsOptions_SetServers(natsOptions, &mutable, Int32(pointers.count)), operation)
        }
        try check(natsOptions_SetName(natsOptions, options.name), operation)
        try check(natsOptions_SetNoRandomize(natsOptions, true), operation)
        try check(natsOptions_SetTimeout(natsOptions, options.connectTimeout.natsMilliseconds), operation)
        try check(natsOptions_SetAllowReconnect(natsOptions, true), operation)
        try check(natsOptions_SetMaxReconnect(natsOptions, -1), operation)
        try check(natsOptions_SetCustomReconnectDelay(natsOptions, natsReconnectDelayCallback, closure), operation)
        try check(natsOptions_SetPingInterval(natsOptions, options.pingInterval.natsMilliseconds), operation)
        try check(natsOptions_SetMaxPingsOut(natsOptions, 2), operation)
        try check(natsOptions_SetDisconnectedCB(natsOptions, natsDisconnectedCallback, closure), operation)
        try check(natsOptions_SetReconnectedCB(natsOptions, natsReconnectedCallback, closure), operation)
        try check(natsOptions_SetClosedCB(natsOptions, natsClosedCallback, closure), operation)
        try check(natsOptions_SetErrorHandler(natsOptions, natsAsyncErrorCallback, closure), operation)

        // The closed callback gives this retain back; taken only once a connection exists to call it.
        var connection: OpaquePointer?
        let status = natsConnection_Connect(&connection, natsOptions)
        guard status == NATS_OK, let connection else {
            throw NATSError.from(status: status == NATS_OK ? NATS_NO_SERVER : status, operation: operation)
        }
        _ = Unmanaged.passUnretained(callbacks).retain()

        var jsOptions = CNats.jsOptions()
        jsOptions_Init(&jsOptions)
        jsOptions.Wait = options.requestTimeout.natsMilliseconds
        jsOptions.PublishAsync.AckHandler = natsPublishAckCallback
        jsOptions.PublishAsync.AckHandlerClosure = closure
        jsOptions.PublishAsync.MaxPending = 1 << 16
        var jetStream: OpaquePointer?
        let jsStatus = natsConnection_JetStream(&jetStream, connection, &jsOptions)
        guard jsStatus == NATS_OK, let jetStream else {
            let error = NATSError.from(status: jsStatus, operation: "open a JetStream context on \(list)")
            natsConnection_Close(connection)
            natsConnection_Destroy(connection)
            throw error
        }
        callbacks.logger.info("connected to NATS at \(natsConnectedURL(connection))")
        return Handles(connection: connection, jetStream: jetStream)
    }

    /// A connection dropped without ``close()`` is closed on its queue, so the C client's threads and sockets
    /// do not outlive it.
    deinit {
        let handles = self.handles
        callbacks.closing.store(true, ordering: .relaxed)
        queue.async {
            if let jetStream = handles.jetStream { jsCtx_Destroy(jetStream) }
            if let connection = handles.connection {
                natsConnection_Close(connection)
                natsConnection_Destroy(connection)
            }
            handles.jetStream = nil
            handles.connection = nil
        }
    }

    /// The largest message body the server takes (its `max_payload`, 1 MiB by default).
    public var maxPayload: Int {
        get async throws {
            try await perform("read the server's max payload") { connection, _ in Int(natsConnection_GetMaxPayload(connection)) }
        }
    }

    /// Whether the client is connected now (false while it reconnects).
    public var isConnected: Bool {
        get async {
            (try? await perform("status") { connection, _ in natsConnection_Status(connection) == NATS_CONN_STATUS_CONNECTED }) ?? false
        }
    }

    /// Closes the connection; later calls fail with a `disconnected` error. Idempotent.
    public func close() async {
        callbacks.closing.store(true, ordering: .relaxed)
        _ = try? await Self.run(on: queue) { [handles] in
            if let jetStream = handles.jetStream { jsCtx_Destroy(jetStream) }
            if let connection = handles.connection {
                natsConnection_Close(connection)
                natsConnection_Destroy(connection)
            }
            handles.jetStream = nil
            handles.connection = nil
        }
    }
}

/// Throws the mapped error when `status` is not OK.
func check(_ status: natsStatus, _ operation: @autoclosure () -> String) throws {
    guard status == NATS_OK else { throw NATSError.from(status: status, operation: operation()) }
}

/// Calls `body` with C strings for `strings`, valid during the call.
func withCStrings<T>(_ strings: [String], _ body: ([UnsafePointer<CChar>?]) throws -> T) throws -> T {
    let duplicates = strings.map { strdup($0) }
    defer { for pointer in duplicates { free(pointer) } }
    return try body(duplicates.map { UnsafePointer($0) })
}
