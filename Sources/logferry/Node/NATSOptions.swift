import ArgumentParser
import LogFerryNATS
import LogFerryNode

/// NATS JetStream flags (agent, relay, receive): a JetStream sink (`--nats-out`) and source (`--nats-in`).
struct NATSOptions: ParsableArguments {
    @Option(name: .customLong("nats-out"), help: "NATS URLs nats://HOST:PORT[,...]: publish every batch to JetStream (a sink).")
    var natsOut: String?

    @Option(name: .customLong("nats-in"), help: "NATS URLs nats://HOST:PORT[,...]: read batches from JetStream with a durable consumer (a source).")
    var natsIn: String?

    @Option(name: .customLong("nats-stream"), help: "The JetStream stream (created when missing).")
    var natsStream: String = "LOGFERRY"

    @Option(name: .customLong("nats-subject"), help: "Subject template; {host} is the batch's origin host.")
    var natsSubject: String = "logs.{host}"

    @Option(name: .customLong("nats-replicas"), help: "Replicas of a stream this node creates (1, 3 or 5).")
    var natsReplicas: Int = 1

    @Option(name: .customLong("nats-max-bytes"), help: "Size limit of a stream this node creates (-1: none); a full stream refuses publishes.")
    var natsMaxBytes: Int = -1

    @Option(name: .customLong("nats-max-age"), help: "How long a stream this node creates keeps a message (e.g. 7d); reading does not free room, aging does.")
    var natsMaxAge: String?

    @Option(name: .customLong("nats-format"), help: "What --nats-out publishes: batch (compressed batches, for --nats-in) or events (one JSON message per event).")
    var natsFormat: String = "batch"

    @Option(name: .customLong("nats-consumer"), help: "Durable consumer name of --nats-in; readers sharing it share the work.")
    var natsConsumer: String = "logferry"

    func apply(to configuration: inout NodeConfiguration) throws {
        if let natsOut { configuration.natsOut = try ConfigValue.natsServers(natsOut, key: "nats-out") }
        if let natsIn { configuration.natsIn = try ConfigValue.natsServers(natsIn, key: "nats-in") }
        configuration.natsStream = try ConfigValue.natsName(natsStream, key: "nats-stream")
        configuration.natsSubject = try ConfigValue.natsSubject(natsSubject, key: "nats-subject")
        configuration.natsReplicas = try ConfigValue.natsReplicas(natsReplicas, key: "nats-replicas")
        configuration.natsMaxBytes = natsMaxBytes
        configuration.natsMaxAge = try natsMaxAge.map { try ConfigValue.duration($0, key: "nats-max-age") }
        configuration.natsFormat = try ConfigValue.natsFormat(natsFormat, key: "nats-format")
        configuration.natsConsumer = try ConfigValue.natsName(natsConsumer, key: "nats-consumer")
    }
}

extension ConfigValue {
    static func natsServers(_ text: String, key: String) throws -> [String] {
        guard let servers = NATSConnectionOptions.parseServers(text) else {
            throw ConfigError.badValue(key: key, value: text, expected: "nats://HOST:PORT[,nats://HOST:PORT...]")
        }
        return servers
    }

    /// A stream or consumer name: no spaces, dots or wildcards.
    static func natsName(_ text: String, key: String) throws -> String {
        guard !text.isEmpty, !text.contains(where: { " \t.*>/\\".contains($0) }) else {
            throw ConfigError.badValue(key: key, value: text, expected: "a name without spaces, '.', '*', '>', '/' or '\\'")
        }
        return text
    }

    static func natsSubject(_ text: String, key: String) throws -> String {
        guard NATSSubjectTemplate(text) != nil, !text.contains(" ") else {
            throw ConfigError.badValue(key: key, value: text, expected: "a subject such as logs.{host}")
        }
        return text
    }

    static func natsReplicas(_ value: Int, key: String) throws -> Int {
        guard (1...5).contains(value) else {
            throw ConfigError.badValue(key: key, value: "\(value)", expected: "1 to 5")
        }
        return value
    }

    static func natsFormat(_ text: String, key: String) throws -> NATSPayloadFormat {
        guard let format = NATSPayloadFormat(rawValue: text) else {
            throw ConfigError.badValue(key: key, value: text, expected: "batch or events")
        }
        return format
    }
}

extension NodeConfiguration {
    /// How this node reaches NATS, for a connection named `role`.
    func natsConnection(_ servers: [String], role: String) -> NATSConnectionOptions {
        NATSConnectionOptions(servers: servers, name: "logferry \(role) \(hostName)")
    }

    /// The subject template (checked when the configuration was read).
    var natsSubjectTemplate: NATSSubjectTemplate {
        NATSSubjectTemplate(natsSubject) ?? NATSSubjectTemplate("logs.{host}")!
    }
}
