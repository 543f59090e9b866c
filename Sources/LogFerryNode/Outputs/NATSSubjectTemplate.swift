import Foundation

/// The subject a batch is published to: a template in which `{host}` stands for the batch's origin host.
///
/// The host is made a single subject token (characters other than letters, digits, `-` and `_` become `_`), so
/// `web-1.example.com` publishes to `logs.web-1_example_com` and the stream takes `logs.*`.
public struct NATSSubjectTemplate: Sendable, Hashable {
    /// The template text, e.g. `logs.{host}`.
    public var text: String

    /// Creates a template; nil when it is empty or has an empty token (`logs..x`).
    public init?(_ text: String) {
        guard !text.isEmpty, !text.split(separator: ".", omittingEmptySubsequences: false).contains(where: \.isEmpty) else {
            return nil
        }
        self.text = text
    }

    /// The subject for a batch of `host`.
    public func subject(host: String) -> String {
        text.replacingOccurrences(of: "{host}", with: Self.token(host))
    }

    /// The subject filter the stream takes: each `{host}` becomes the wildcard `*`.
    public var streamSubject: String {
        text.replacingOccurrences(of: "{host}", with: "*")
    }

    /// `value` as one subject token.
    static func token(_ value: String) -> String {
        let mapped = value.unicodeScalars.map { scalar -> Character in
            switch scalar {
            case "a"..."z", "A"..."Z", "0"..."9", "-", "_": return Character(scalar)
            default: return "_"
            }
        }
        return mapped.isEmpty ? "_" : String(mapped)
    }
}
