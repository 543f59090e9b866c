import NIOSSL
import X509

/// The names a client certificate vouches for: its subject's common name and its DNS subject alternative
/// names. With mutual TLS, an agent's hello host name must be one of them.
struct CertificateIdentity: Sendable, Equatable {
    /// The subject common name(s), then the DNS SANs, in certificate order.
    let names: [String]

    /// Reads the names of `certificate`; nil when it cannot be parsed.
    init?(_ certificate: NIOSSLCertificate) {
        guard let der = try? certificate.toDERBytes(), let parsed = try? Certificate(derEncoded: der) else { return nil }
        var names: [String] = []
        for relative in parsed.subject {
            for attribute in relative where attribute.type == .RDNAttributeType.commonName {
                if let name = String(attribute.value) { names.append(name) }
            }
        }
        if let alternatives = try? parsed.extensions.subjectAlternativeNames {
            for alternative in alternatives {
                if case .dnsName(let name) = alternative, !names.contains(name) { names.append(name) }
            }
        }
        self.names = names
    }

    init(names: [String]) {
        self.names = names
    }

    /// Whether `host` is one of the names (exactly; host names in hellos are not case-folded elsewhere either).
    func vouches(for host: String) -> Bool {
        names.contains(host)
    }
}
