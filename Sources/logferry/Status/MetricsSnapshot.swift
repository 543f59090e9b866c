import Foundation

/// One scrape of a node's Prometheus endpoint, parsed: every sample by metric name and labels.
///
/// Only the text exposition format's sample lines are read (`name{label="value",...} number`); comments, HELP and
/// TYPE lines and samples whose value is not a number are skipped, so a newer node with more metrics still parses.
struct MetricsSnapshot: Sendable {
    /// One sample line.
    struct Sample: Sendable, Hashable {
        var name: String
        var labels: [String: String]
        var value: Double
    }

    /// The samples in the order they came.
    var samples: [Sample]
    /// When the scrape finished.
    var takenAt: ContinuousClock.Instant

    /// Parses an exposition text.
    init(parsing text: String, takenAt: ContinuousClock.Instant = .now) {
        self.takenAt = takenAt
        samples = text.split(separator: "\n").compactMap(Self.parseLine)
    }

    /// The samples of metric `name`.
    func series(_ name: String) -> [Sample] {
        samples.filter { $0.name == name }
    }

    /// Whether the node exports metric `name` at all.
    func has(_ name: String) -> Bool {
        samples.contains { $0.name == name }
    }

    /// The sum of every sample of `name` whose labels include `matching`; nil when there is none.
    func total(_ name: String, matching: [String: String] = [:]) -> Double? {
        let found = series(name).filter { sample in matching.allSatisfy { sample.labels[$0.key] == $0.value } }
        return found.isEmpty ? nil : found.reduce(0) { $0 + $1.value }
    }

    private static func parseLine(_ line: Substring) -> Sample? {
        let line = line.trimmingCharacters(in: .whitespaces)
        guard !line.isEmpty, !line.hasPrefix("#") else { return nil }
        var labels: [String: String] = [:]
        let name: Substring
        let rest: Substring
        if let brace = line.firstIndex(of: "{") {
            name = line[..<brace]
            guard let close = line.lastIndex(of: "}"), close > brace else { return nil }
            guard let parsed = parseLabels(line[line.index(after: brace)..<close]) else { return nil }
            labels = parsed
            rest = line[line.index(after: close)...]
        } else {
            guard let space = line.firstIndex(of: " ") else { return nil }
            name = line[..<space]
            rest = line[space...]
        }
        // The value, then an optional timestamp.
        guard let valueText = rest.split(separator: " ").first, let value = Double(valueText) else { return nil }
        return Sample(name: String(name), labels: labels, value: value)
    }

    /// `a="x",b="y"` with `\"`, `\\` and `\n` escapes in values.
    private static func parseLabels(_ text: Substring) -> [String: String]? {
        var labels: [String: String] = [:]
        var index = text.startIndex
        while index < text.endIndex {
            guard let equals = text[index...].firstIndex(of: "=") else { return nil }
            let key = text[index..<equals].trimmingCharacters(in: CharacterSet(charactersIn: " ,"))
            var cursor = text.index(after: equals)
            guard cursor < text.endIndex, text[cursor] == "\"" else { return nil }
            cursor = text.index(after: cursor)
            var value = ""
            var closed = false
            while cursor < text.endIndex {
                let character = text[cursor]
                if character == "\\" {
                    let next = text.index(after: cursor)
                    guard next < text.endIndex else { return nil }
                    value.append(text[next] == "n" ? "\n" : text[next])
                    cursor = text.index(after: next)
                } else if character == "\"" {
                    closed = true
                    cursor = text.index(after: cursor)
                    break
                } else {
                    value.append(character)
                    cursor = text.index(after: cursor)
                }
            }
            guard closed else { return nil }
            labels[key] = value
            index = cursor
            while index < text.endIndex, text[index] == "," || text[index] == " " { index = text.index(after: index) }
        }
        return labels
    }
}
