import NIOSSL

/// TLS for a ferry listener: its certificate and key, and optionally a CA that client certificates must chain
/// to (mutual TLS).
public struct TLSServerOptions: Sendable, Hashable {
    /// PEM certificate chain file.
    public var certificatePath: String
    /// PEM private key file.
    public var keyPath: String
    /// PEM CA file; when set, clients must present a certificate signed by it.
    public var clientCAPath: String?

    /// Creates server TLS options.
    public init(certificatePath: String, keyPath: String, clientCAPath: String? = nil) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.clientCAPath = clientCAPath
    }

    /// Loads the files into an SSL context; errors name the file.
    func makeContext() throws -> NIOSSLContext {
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificatePath)
        } catch {
            throw TLSOptionsError(path: certificatePath, what: "TLS certificate", underlying: error)
        }
        do {
            key = try NIOSSLPrivateKey(file: keyPath, format: .pem)
        } catch {
            throw TLSOptionsError(path: keyPath, what: "TLS private key", underlying: error)
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) },
            privateKey: .privateKey(key)
        )
        if let clientCAPath {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .file(clientCAPath)
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// TLS for a ferry client: the CA that the server's certificate must chain to, and optionally a client
/// certificate for mutual TLS.
public struct TLSClientOptions: Sendable, Hashable {
    /// PEM CA file to verify the server against; the system roots when nil.
    public var caPath: String?
    /// PEM client certificate (mutual TLS).
    public var certificatePath: String?
    /// PEM client key (mutual TLS).
    public var keyPath: String?
    /// The name to verify the server certificate against; the upstream's host when nil.
    public var serverName: String?

    /// Creates client TLS options.
    public init(caPath: String? = nil, certificatePath: String? = nil, keyPath: String? = nil, serverName: String? = nil) {
        self.caPath = caPath
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        self.serverName = serverName
    }

    /// Loads the files into an SSL context; errors name the file.
    func makeContext() throws -> NIOSSLContext {
        var configuration = TLSConfiguration.makeClientConfiguration()
        if let caPath { configuration.trustRoots = .file(caPath) }
        if let certificatePath {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificatePath).map { .certificate($0) }
            } catch {
                throw TLSOptionsError(path: certificatePath, what: "TLS client certificate", underlying: error)
            }
        }
        if let keyPath {
            do {
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyPath, format: .pem))
            } catch {
                throw TLSOptionsError(path: keyPath, what: "TLS client key", underlying: error)
            }
        }
        return try NIOSSLContext(configuration: configuration)
    }
}

/// A TLS file that could not be loaded.
struct TLSOptionsError: Error, CustomStringConvertible {
    /// The file.
    var path: String
    /// What the file was meant to hold.
    var what: String
    /// The loader's error.
    var underlying: any Error
    /// An operator-facing description.
    var description: String { "cannot load \(what) from \(path): \(underlying). Check the path and that the file is PEM." }
}
