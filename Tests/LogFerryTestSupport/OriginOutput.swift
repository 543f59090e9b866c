import Foundation

/// What a receiver wrote for one origin, checked line by line against ``TestOrigin/line(_:host:)``.
public struct OriginOutput: CustomStringConvertible {
    /// Lines found.
    public var lines = 0
    /// Lines whose number was seen before.
    public var duplicates = 0
    /// Lines whose number is lower than the line before (out of order), duplicates excluded.
    public var outOfOrder = 0
    /// Lines that are not of the expected form.
    public var garbled = 0
    /// Numbers in 0..<expected that never appeared.
    public var missing = 0
    /// The first few problems, for the failure message.
    public var problems: [String] = []

    /// Whether the file holds exactly lines 0..<expected, once each, in order.
    public var isExact: Bool { duplicates == 0 && outOfOrder == 0 && garbled == 0 && missing == 0 }

    /// The counts and the first problems, for a failure message.
    public var description: String {
        "\(lines) lines, \(missing) missing, \(duplicates) doubled, \(outOfOrder) out of order, \(garbled) garbled"
            + (problems.isEmpty ? "" : "; first problems: " + problems.joined(separator: "; "))
    }

    /// The files a receiver wrote under `out` for `host` (its directory `out/host`), sorted by name.
    public static func files(in out: String, host: String) -> [String] {
        let directory = out + "/" + host
        return ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted().map { directory + "/" + $0 }
    }

    /// How many fixed-width lines of `host` (``TestOrigin/line(_:host:)``) the files of `host` under `out` hold
    /// now, from their sizes: cheap enough to poll while a run goes on.
    public static func lineCount(in out: String, host: String) -> Int {
        let lineLength = TestOrigin.line(0, host: host).utf8.count + 1
        return files(in: out, host: host).reduce(0) { total, path in
            total + ((try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0) / lineLength
        }
    }

    /// Reads `paths` one after the other (a missing file counts as empty) and checks that together they
    /// hold lines 0..<expected of `host`.
    public static func check(paths: [String], host: String, expected: Int) -> OriginOutput {
        var report = OriginOutput()
        var data = Data()
        for path in paths {
            if let contents = FileManager.default.contents(atPath: path) { data.append(contents) }
        }
        var seen = [Bool](repeating: false, count: expected)
        var previous = -1
        let prefix = Array("seq=".utf8)
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var start = 0
            var lineNumber = 0
            while start < bytes.count {
                var end = start
                while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
                lineNumber += 1
                report.lines += 1
                let line = UnsafeRawBufferPointer(rebasing: bytes[start..<end])
                if let index = parse(line, prefix: prefix), index < expected,
                    Array(line) == Array(TestOrigin.line(index, host: host).utf8)
                {
                    if seen[index] {
                        report.duplicates += 1
                        report.note("line \(lineNumber): seq \(index) doubled")
                    } else {
                        seen[index] = true
                        if index < previous {
                            report.outOfOrder += 1
                            report.note("line \(lineNumber): seq \(index) after seq \(previous)")
                        }
                    }
                    previous = max(previous, index)
                } else {
                    report.garbled += 1
                    report.note("line \(lineNumber) garbled: \(String(decoding: line.prefix(80), as: UTF8.self))")
                }
                start = end + 1
            }
        }
        if let first = seen.firstIndex(of: false) {
            report.missing = seen.lazy.filter { !$0 }.count
            report.note("first missing seq \(first)")
        }
        return report
    }

    private static func parse(_ line: UnsafeRawBufferPointer, prefix: [UInt8]) -> Int? {
        guard line.count >= prefix.count + 9, Array(line.prefix(prefix.count)) == prefix else { return nil }
        var value = 0
        for byte in line[prefix.count..<(prefix.count + 9)] {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private mutating func note(_ problem: String) {
        if problems.count < 5 { problems.append(problem) }
    }
}
