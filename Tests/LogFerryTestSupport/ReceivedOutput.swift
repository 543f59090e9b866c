import Foundation

/// What a receiver wrote under its `--out` directory.
public enum ReceivedOutput {
    /// Every output file (recursively) as `host/name` → its bytes; the sink's own state (`.logferry/`) is not output.
    public static func files(in out: String) -> [String: [UInt8]] {
        var result: [String: [UInt8]] = [:]
        guard let enumerator = FileManager.default.enumerator(atPath: out) else { return result }
        while let relative = enumerator.nextObject() as? String {
            if relative.hasPrefix(".logferry") { continue }
            let path = out + "/" + relative
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), !isDirectory.boolValue,
                let data = FileManager.default.contents(atPath: path)
            else { continue }
            result[relative] = Array(data)
        }
        return result
    }

    /// The lines of every output file in raw format, unescaped (`\\`, `\n`, `\r`), by `host/name`.
    public static func rawLines(in out: String) -> [String: [[UInt8]]] {
        files(in: out).mapValues { bytes in splitLines(bytes).map(unescape) }
    }

    /// The JSON objects of every output file in json format, by `host/name`.
    public static func jsonEvents(in out: String) -> [String: [[String: Any]]] {
        files(in: out).mapValues { bytes in
            splitLines(bytes).compactMap { line in
                (try? JSONSerialization.jsonObject(with: Data(line))) as? [String: Any]
            }
        }
    }

    /// How many complete lines all output files hold together (cheap: counts newlines).
    public static func lineCount(in out: String) -> Int {
        var count = 0
        for bytes in files(in: out).values {
            bytes.withUnsafeBufferPointer { buffer in
                for byte in buffer where byte == 0x0A { count += 1 }
            }
        }
        return count
    }

    /// `NAME.1`, `NAME.2`, ... (oldest first) that exist in `directory`, then `NAME`: the files of one output in the
    /// order the file sink wrote them.
    public static func rotatedFiles(in directory: String, name: String) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        let rotated = names.compactMap { entry -> Int? in
            guard entry.hasPrefix(name + ".") else { return nil }
            return Int(entry.dropFirst(name.count + 1))
        }.sorted()
        return rotated.map { directory + "/" + name + ".\($0)" } + [directory + "/" + name]
    }

    /// The last complete line of the file whose name ends with `suffix` under `out/host`, or nil.
    public static func lastLine(in out: String, host: String, nameSuffix suffix: String) -> [UInt8]? {
        let directory = out + "/" + host
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory),
            let name = names.first(where: { $0.hasSuffix(suffix) }),
            let handle = FileHandle(forReadingAtPath: directory + "/" + name)
        else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd(), size > 0 else { return nil }
        let start = size > 8192 ? size - 8192 : 0
        try? handle.seek(toOffset: start)
        guard let data = try? handle.readToEnd() else { return nil }
        var bytes = Array(data)
        guard bytes.last == 0x0A else { return nil }
        bytes.removeLast()
        let from = bytes.lastIndex(of: 0x0A).map { $0 + 1 } ?? 0
        return Array(bytes[from...])
    }

    /// Splits at `\n`; a last line without its newline is not complete and is left out.
    public static func splitLines(_ bytes: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var start = 0
        for index in bytes.indices where bytes[index] == 0x0A {
            lines.append(Array(bytes[start..<index]))
            start = index + 1
        }
        return lines
    }

    /// Undoes the raw format's escaping.
    static func unescape(_ line: [UInt8]) -> [UInt8] {
        guard line.contains(0x5C) else { return line }
        var out: [UInt8] = []
        out.reserveCapacity(line.count)
        var index = 0
        while index < line.count {
            let byte = line[index]
            if byte == 0x5C, index + 1 < line.count {
                switch line[index + 1] {
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                default: out.append(line[index + 1])
                }
                index += 2
            } else {
                out.append(byte)
                index += 1
            }
        }
        return out
    }
}

/// The lines of the output file for the tailed file named `name` (the file sink names outputs after the
/// file-safe source path, so it ends with `_<name>`, plus `.log` when the name lacks it; a source that is not a
/// path, such as `stdin`, is the whole name).
public func outputLines(_ outputs: [String: [[UInt8]]], host: String, file name: String) -> [[UInt8]]? {
    let wanted = name.hasSuffix(".log") ? name : name + ".log"
    return outputs.first { $0.key == host + "/" + wanted || ($0.key.hasPrefix(host + "/") && $0.key.hasSuffix("_" + wanted)) }?.value
}
