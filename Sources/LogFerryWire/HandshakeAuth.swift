import Crypto

/// The optional shared-key authentication of the handshake.
///
/// The client proves it holds the key with HMAC-SHA256(key, nonce ‖ spool id ‖ host name), where the nonce
/// is the 32 random bytes of the server hello (so a captured proof is useless on another connection) and
/// the host name is its UTF-8 bytes. The nonce and the spool id have fixed sizes, so the concatenation is
/// unambiguous.
public enum HandshakeAuth {
    /// The proof a client with `key` sends in its hello.
    public static func proof(key: [UInt8], nonce: [UInt8], spoolID: [UInt8], hostName: String) -> [UInt8] {
        let mac = HMAC<SHA256>.authenticationCode(
            for: message(nonce: nonce, spoolID: spoolID, hostName: hostName),
            using: SymmetricKey(data: key)
        )
        return [UInt8](mac)
    }

    /// Whether `proof` is right for `key`, compared in constant time.
    public static func verify(proof: [UInt8], key: [UInt8], nonce: [UInt8], spoolID: [UInt8], hostName: String) -> Bool {
        guard proof.count == ClientHello.proofSize else { return false }
        return HMAC<SHA256>.isValidAuthenticationCode(
            proof,
            authenticating: message(nonce: nonce, spoolID: spoolID, hostName: hostName),
            using: SymmetricKey(data: key)
        )
    }

    private static func message(nonce: [UInt8], spoolID: [UInt8], hostName: String) -> [UInt8] {
        nonce + spoolID + Array(hostName.utf8)
    }
}
