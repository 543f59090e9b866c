import NIOCore

extension NIOAsyncChannel {
    /// Wraps a connection a listener accepted, in its child channel initializer.
    ///
    /// Unlike `init(wrappingChannelSynchronously:configuration:)`, the result closes the channel if it is
    /// dropped unserved. A listener that shuts down while accepted connections are still queued in its accept
    /// stream drops them; with the plain initializer their writer traps in its deinit ("Deinited NIOAsyncWriter
    /// without calling finish()", swift-nio #2813), which took a receiver down with SIGILL on SIGTERM. Served
    /// connections still go through `executeThenClose`. The initializer used is deprecated for its deinit-based
    /// teardown, which is exactly what is needed for connections nobody will serve.
    public static func accepted(_ channel: any Channel, configuration: Configuration = .init()) throws -> NIOAsyncChannel {
        try NIOAsyncChannel(synchronouslyWrapping: channel, configuration: configuration)
    }
}
