/// The names of everything in a spool directory (Docs/SPOOL.md, "Directory").
///
/// ```
/// DIR/lock                          flock(2) target; holds the holder's pid in decimal
/// DIR/spool.meta                    state file: spool id, reserved sequences, drop counters
/// DIR/segments/<20 digits>.seg      segment files, named by their first sequence
/// DIR/cursors/<name>.cursor         state file per cursor: committed sequence + sink state
/// DIR/state/<name>.state            state file per named blob (saveState)
/// DIR/quarantine/*                  copies of damaged bytes, for the operator
/// ```
struct SpoolLayout: Sendable {
    let directory: String

    init(directory: String) {
        var dir = directory
        while dir.count > 1 && dir.hasSuffix("/") { dir.removeLast() }
        self.directory = dir
    }

    var lockPath: String { directory + "/lock" }
    var metaPath: String { directory + "/spool.meta" }
    /// Where the spool last lived (machine and path), to recognise a copy.
    var identityPath: String { directory + "/spool.identity" }
    var segmentsDirectory: String { directory + "/segments" }
    var cursorsDirectory: String { directory + "/cursors" }
    var stateDirectory: String { directory + "/state" }
    var quarantineDirectory: String { directory + "/quarantine" }

    static let segmentSuffix = ".seg"
    static let cursorSuffix = ".cursor"
    static let stateSuffix = ".state"

    static func segmentName(_ first: UInt64) -> String {
        let digits = String(first)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + segmentSuffix
    }

    func segmentPath(_ first: UInt64) -> String { segmentsDirectory + "/" + Self.segmentName(first) }
    func cursorPath(_ name: String) -> String { cursorsDirectory + "/" + name + Self.cursorSuffix }
    func statePath(_ name: String) -> String { stateDirectory + "/" + name + Self.stateSuffix }

    /// The first sequence a segment file name stands for, or `nil` when the name is not a segment's.
    static func parseSegmentName(_ name: String) -> UInt64? {
        guard name.hasSuffix(segmentSuffix) else { return nil }
        let digits = name.dropLast(segmentSuffix.count)
        guard digits.count == 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    /// The sorted first sequences of the segment files present.
    func listSegments() throws(POSIXError) -> [UInt64] {
        try POSIXFile.listDirectory(segmentsDirectory).compactMap(Self.parseSegmentName).sorted()
    }

    /// Names of cursors and state blobs: 1 to 100 characters of `A-Z a-z 0-9 . _ -`, not starting with a dot.
    static func isValidName(_ name: String) -> Bool {
        guard (1...100).contains(name.utf8.count), !name.hasPrefix(".") else { return false }
        return name.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A)
                || c == UInt8(ascii: ".") || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
        }
    }
}
