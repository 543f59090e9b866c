import Foundation
import LogFerryNode
import LogFerryTestSupport
import Testing

/// TLS and mutual TLS through real nodes, with a CA and certificates made by `openssl` in the test.
///
/// The origin (the real ``FerrySink`` in the test) ships over TLS to `logferry relay`, which ships over TLS
/// to `logferry receive`: both the library client and the command-line TLS flags are exercised, with the
/// certificate checked against the IP SAN (origin → relay) and the DNS SAN (`--tls-server-name localhost`).
@Suite("Ferry over TLS (real processes)", .serialized)
struct FerryTLSTests {
    static let events = 20_000

    @Test("TLS: origin → relay → receive, every event exactly once")
    func tlsRoundTrip() async throws {
        try await FerryScene.run("ferry-tls") { scene in
            let pki = try TestCertificates(in: try scene.path("pki", create: true))
            let out = try scene.path("out", create: true)
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", out,
                "--tls-cert", pki.serverCertificate, "--tls-key", pki.serverKey,
            ])
            let relay = try await scene.node("relay", [
                "relay", "--spool", try scene.path("spool-relay"), "--to", "127.0.0.1:\(receiver.port)",
                "--tls-cert", pki.serverCertificate, "--tls-key", pki.serverKey,
                "--tls-ca", pki.caCertificate, "--tls-server-name", "localhost",
            ])
            try await Self.ship(
                scene, host: "tls-origin", port: relay.port,
                tls: TLSClientOptions(caPath: pki.caCertificate), out: out
            )
            for node in [relay, receiver] {
                let exit = await node.terminate()
                #expect(exit == .exited(0), "\(node.name) exited \(String(describing: exit)) on SIGTERM")
            }
        }
    }

    @Test("mutual TLS: origin → relay → receive with client certificates naming each host; no certificate, a foreign one, or another host's is refused")
    func mutualTLS() async throws {
        try await FerryScene.run("ferry-mtls") { scene in
            let pki = try TestCertificates(in: try scene.path("pki", create: true))
            let out = try scene.path("out", create: true)
            let relayCertificate = try pki.client(for: "mtls-relay")
            let originCertificate = try pki.client(for: "mtls-origin")
            // The relay forwards other hosts' batches: the receiver must name it a trusted relay.
            let receiver = try await scene.node("receiver", [
                "receive", "--spool", try scene.path("spool-receiver"), "--out", out,
                "--tls-cert", pki.serverCertificate, "--tls-key", pki.serverKey, "--tls-client-ca", pki.caCertificate,
                "--trusted-relays", "mtls-relay",
            ])
            let relay = try await scene.node("relay", [
                "relay", "--spool", try scene.path("spool-relay"), "--to", "127.0.0.1:\(receiver.port)",
                "--host-name", "mtls-relay",
                "--tls-cert", pki.serverCertificate, "--tls-key", pki.serverKey, "--tls-client-ca", pki.caCertificate,
                "--tls-ca", pki.caCertificate, "--tls-server-name", "localhost",
                "--tls-client-cert", relayCertificate.certificate, "--tls-client-key", relayCertificate.key,
            ])
            try await Self.ship(
                scene, host: "mtls-origin", port: relay.port,
                tls: TLSClientOptions(caPath: pki.caCertificate, certificatePath: originCertificate.certificate, keyPath: originCertificate.key),
                out: out
            )

            // A valid certificate of this CA, but for another host: the hello's host name must be one of its names.
            let impostor = try await TestOrigin(
                host: "impostor", source: "rogue", directory: try scene.path("spool-impostor"),
                upstreams: [Upstream(host: "127.0.0.1", port: receiver.port)],
                tls: TLSClientOptions(caPath: pki.caCertificate, certificatePath: originCertificate.certificate, keyPath: originCertificate.key)
            )
            try await impostor.append(lines: 0..<100, batchSize: 100)
            let impostorFailures = try await impostor.shipping {
                try await impostor.logs.waitFor(2, atLeast: .warning, deadline: .seconds(60))
            }
            print("mutual TLS, another host's certificate: \(impostorFailures.prefix(1))")
            #expect(await impostor.sink.acknowledged == 0, "a client claiming another host than its certificate got batches acknowledged")
            #expect(!FileManager.default.fileExists(atPath: out + "/impostor"), "a client claiming another host got output written")
            #expect(impostorFailures.allSatisfy { $0.contains("'mtls-origin'") && $0.contains("'impostor'") },
                    "each failure should name the certificate's names and the claimed host: \(impostorFailures)")

            // The same trust, no client certificate: the receiver must refuse every attempt.
            let rogue = try await TestOrigin(
                host: "no-cert-origin", source: "rogue", directory: try scene.path("spool-rogue"),
                upstreams: [Upstream(host: "127.0.0.1", port: receiver.port)],
                tls: TLSClientOptions(caPath: pki.caCertificate)
            )
            try await rogue.append(lines: 0..<100, batchSize: 100)
            let failures = try await rogue.shipping {
                try await rogue.logs.waitFor(3, atLeast: .warning, deadline: .seconds(60))
            }
            print("mutual TLS, client without a certificate: \(failures.prefix(3))")
            #expect(await rogue.sink.acknowledged == 0, "a client without a certificate got batches acknowledged")
            #expect(!FileManager.default.fileExists(atPath: out + "/no-cert-origin"), "a client without a certificate got output written")
            #expect(failures.allSatisfy { $0.contains("127.0.0.1:\(receiver.port)") }, "each failure should name the upstream: \(failures)")
            #expect(failures.allSatisfy { $0.contains("CERTIFICATE_REQUIRED") }, "each failure should be the missing certificate: \(failures)")

            // A client certificate from another CA: refused as well.
            let strangers = try TestCertificates(in: try scene.path("pki-other", create: true))
            let stranger = try await TestOrigin(
                host: "other-ca-origin", source: "rogue", directory: try scene.path("spool-stranger"),
                upstreams: [Upstream(host: "127.0.0.1", port: receiver.port)],
                tls: TLSClientOptions(caPath: pki.caCertificate, certificatePath: strangers.clientCertificate, keyPath: strangers.clientKey)
            )
            try await stranger.append(lines: 0..<100, batchSize: 100)
            let strangerFailures = try await stranger.shipping {
                try await stranger.logs.waitFor(3, atLeast: .warning, deadline: .seconds(60))
            }
            print("mutual TLS, client certificate from another CA: \(strangerFailures.prefix(1))")
            #expect(await stranger.sink.acknowledged == 0, "a client with a foreign certificate got batches acknowledged")
            #expect(!FileManager.default.fileExists(atPath: out + "/other-ca-origin"), "a client with a foreign certificate got output written")
            #expect(strangerFailures.allSatisfy { $0.contains("UNKNOWN_CA") }, "each failure should be the unknown CA: \(strangerFailures)")

            for node in [relay, receiver] {
                let exit = await node.terminate()
                #expect(exit == .exited(0), "\(node.name) exited \(String(describing: exit)) on SIGTERM")
            }
        }
    }

    /// Ships ``events`` lines from an origin named `host` to `port` and checks they all reach `out` exactly once.
    static func ship(_ scene: FerryScene, host: String, port: Int, tls: TLSClientOptions, out: String) async throws {
        let origin = try await TestOrigin(
            host: host, source: "tls", directory: try scene.path("spool-\(host)"),
            upstreams: [Upstream(host: "127.0.0.1", port: port)], tls: tls
        )
        let last = try await origin.append(lines: 0..<events, batchSize: 1000)
        let file = out + "/\(host)/tls.log"
        let expectedBytes = (0..<events).reduce(0) { $0 + TestOrigin.line($1, host: host).utf8.count + 1 }
        try await origin.shipping {
            do {
                try await origin.waitUntilAcknowledged(through: last, deadline: .seconds(60), "\(host)'s batches to be acknowledged over TLS")
            } catch {
                print("\(host) sink log: \(origin.logs.messages(atLeast: .warning).suffix(5))")
                throw error
            }
            try await waitUntil("\(events) events from \(host) written", deadline: .seconds(60)) {
                (try? FileManager.default.attributesOfItem(atPath: file)[.size] as? Int).map { $0 >= expectedBytes } ?? false
            }
        }
        let report = OriginOutput.check(paths: [file], host: host, expected: events)
        #expect(report.isExact, "\(host) over TLS: \(report)")
    }
}
