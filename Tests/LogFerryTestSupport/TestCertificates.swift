import Foundation

/// A throwaway PKI made with the `openssl` command for the TLS tests: a CA, a server certificate for
/// `127.0.0.1` and `localhost`, and a client certificate, all signed by the CA (P-256 keys, valid 2 days).
public struct TestCertificates: Sendable {
    /// The CA certificate (PEM): what clients trust, and what a mutual-TLS server requires client certificates from.
    public let caCertificate: String
    /// The server certificate (PEM), SAN `IP:127.0.0.1, DNS:localhost`.
    public let serverCertificate: String
    /// The server key (PEM).
    public let serverKey: String
    /// The client certificate (PEM), for mutual TLS.
    public let clientCertificate: String
    /// The client key (PEM).
    public let clientKey: String

    /// Makes the files in `directory`.
    public init(in directory: String) throws {
        let caKey = directory + "/ca.key"
        caCertificate = directory + "/ca.pem"
        serverKey = directory + "/server.key"
        serverCertificate = directory + "/server.pem"
        clientKey = directory + "/client.key"
        clientCertificate = directory + "/client.pem"
        let curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

        try Self.openssl(["req", "-x509"] + curve + [
            "-keyout", caKey, "-out", caCertificate, "-days", "2", "-subj", "/CN=LogFerry Test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        ])
        try Self.issue(
            name: "server", subject: "/CN=localhost", key: serverKey, certificate: serverCertificate,
            extensions: "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
            caKey: caKey, caCertificate: caCertificate, directory: directory, curve: curve)
        try Self.issue(
            name: "client", subject: "/CN=logferry-test-client", key: clientKey, certificate: clientCertificate,
            extensions: "extendedKeyUsage=clientAuth\n",
            caKey: caKey, caCertificate: caCertificate, directory: directory, curve: curve)
    }

    /// Issues a client certificate for `host` (CN and DNS SAN `host`), signed by this CA, into the CA's
    /// directory: with mutual TLS a node's `--host-name` must be one of its certificate's names.
    public func client(for host: String) throws -> (certificate: String, key: String) {
        let directory = (caCertificate as NSString).deletingLastPathComponent
        let certificate = directory + "/client-\(host).pem"
        let key = directory + "/client-\(host).key"
        try Self.issue(
            name: "client-\(host)", subject: "/CN=\(host)", key: key, certificate: certificate,
            extensions: "subjectAltName=DNS:\(host)\nextendedKeyUsage=clientAuth\n",
            caKey: directory + "/ca.key", caCertificate: caCertificate, directory: directory,
            curve: ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"])
        return (certificate, key)
    }

    private static func issue(
        name: String, subject: String, key: String, certificate: String, extensions: String,
        caKey: String, caCertificate: String, directory: String, curve: [String]
    ) throws {
        let request = directory + "/\(name).csr"
        let extensionFile = directory + "/\(name).ext"
        try ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyAgreement\n" + extensions)
            .write(toFile: extensionFile, atomically: true, encoding: .utf8)
        try openssl(["req"] + curve + ["-keyout", key, "-out", request, "-subj", subject])
        try openssl([
            "x509", "-req", "-in", request, "-CA", caCertificate, "-CAkey", caKey, "-CAcreateserial",
            "-out", certificate, "-days", "2", "-sha256", "-extfile", extensionFile,
        ])
    }

    /// Runs `openssl` with `arguments`; throws with its output when it fails.
    static func openssl(_ arguments: [String]) throws {
        let process = try ChildProcess(
            "/usr/bin/env", ["openssl"] + arguments, standardOutput: .pipe, standardError: .standardOutput
        )
        let output = process.standardOutput ?? -1
        defer { close(output) }
        var bytes: [UInt8] = []
        while case let chunk = readRetryingInterrupts(output), !chunk.isEmpty {
            bytes += chunk
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let exit = process.waitBlocking()
        guard exit == .exited(0) else {
            throw OpenSSLError(arguments: arguments, exit: exit, output: text)
        }
    }
}

/// The `openssl` command failed.
public struct OpenSSLError: Error, CustomStringConvertible {
    /// The arguments after `openssl`.
    public var arguments: [String]
    /// How it ended.
    public var exit: ChildProcess.Exit
    /// What it printed.
    public var output: String
    /// The command, its status and its output.
    public var description: String { "openssl \(arguments.joined(separator: " ")) ended \(exit): \(output)" }
}
