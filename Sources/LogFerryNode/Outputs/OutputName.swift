/// Host and source names as path components of a file sink's output, one-to-one.
///
/// Distinct names always give distinct paths, and no name can leave the output directory: ASCII letters,
/// digits, `-` and `_`, and the letters and digits of other scripts (`ééé`, `日本`) stay as they are and readable;
/// every other byte — `/`, `\`, NUL, controls, spaces, `%` itself, and a leading `.` (no hidden files, no
/// `..`) — is written as `%XX` of its UTF-8 bytes. The empty name is `%`. Names whose escaped form exceeds
/// 200 bytes keep their first 180 bytes, then `~` and 16 hex digits of a 64-bit FNV-1a hash of the whole
/// name, so they stay distinct too (to the strength of the hash).
///
/// Source names are mostly file paths, so ``source(_:)`` writes `/` as `_` (and a literal `_` as `%5F`):
/// `/var/log/nginx/access.log` becomes `_var_log_nginx_access.log`. The file sink adds `.log` to a name that
/// lacks it, so a source `X` and a source `X.log` of the same host share a file: the one exception, kept so
/// that `stdin` is `stdin.log` and `access.log` is not `access.log.log`.
enum OutputName {
    /// The longest path component written.
    static let maxBytes = 200

    /// A source name as one path component (`/` written as `_`).
    static func source(_ name: String) -> String {
        component(name, slash: true)
    }

    /// `name` as one path component.
    static func component(_ name: String, slash: Bool = false) -> String {
        if name.isEmpty { return "%" }
        var out = ""
        out.reserveCapacity(name.utf8.count)
        var first = true
        for scalar in name.unicodeScalars {
            if slash, scalar == "/" {
                out += "_"
            } else if slash, scalar == "_" {
                out += "%5F"
            } else if keeps(scalar, first: first) {
                out.unicodeScalars.append(scalar)
            } else {
                for byte in String(scalar).utf8 { out += "%" + hex(byte) }
            }
            first = false
        }
        guard out.utf8.count > maxBytes else { return out }
        var cut = ""
        for character in out {
            if cut.utf8.count + character.utf8.count > 180 { break }
            cut.append(character)
        }
        return cut + "~" + String(fnv1a(name), radix: 16).leftPadded(to: 16)
    }

    private static func keeps(_ scalar: Unicode.Scalar, first: Bool) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", "_": return true
        case ".": return !first
        default:
            guard scalar.value >= 0x80 else { return false }
            let properties = scalar.properties
            return properties.isAlphabetic || properties.numericType != nil
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
    }

    private static func fnv1a(_ name: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}

extension String {
    fileprivate func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
