/// A message to publish to JetStream.
public struct NATSOutboundMessage: Sendable, Equatable {
    /// The subject (`logs.web-1`).
    public var subject: String
    /// The message id (`Nats-Msg-Id`): the stream drops a second message with the same id within its duplicate
    /// window, which makes a resend after a reconnect or a crash harmless.
    public var id: String
    /// Further headers, in order.
    public var headers: [(name: String, value: String)]
    /// The body.
    public var payload: [UInt8]

    /// Creates a message.
    public init(subject: String, id: String, headers: [(name: String, value: String)] = [], payload: [UInt8]) {
        self.subject = subject
        self.id = id
        self.headers = headers
        self.payload = payload
    }

    /// Equal when subject, id, headers and payload are.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.subject == rhs.subject && lhs.id == rhs.id && lhs.payload == rhs.payload
            && lhs.headers.map(\.name) == rhs.headers.map(\.name) && lhs.headers.map(\.value) == rhs.headers.map(\.value)
    }
}

/// What the stream said about the messages of one ``NATSConnection/publish(_:timeout:)`` call.
public struct NATSPublishResult: Sendable, Equatable {
    /// Messages stored now.
    public var stored: Int
    /// Messages the stream already had (same id within its duplicate window): stored before, not again.
    public var duplicates: Int
    /// The stream sequence of the last message stored.
    public var lastSequence: UInt64
}
