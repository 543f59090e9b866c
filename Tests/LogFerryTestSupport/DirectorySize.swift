import Foundation

/// Bytes of every regular file under `directory` (subdirectories included); 0 when it does not exist. What tests
/// watch a spool's or an output's growth with.
public func directoryBytes(_ directory: String) -> Int {
    guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return 0 }
    var total = 0
    while let relative = enumerator.nextObject() as? String {
        let attributes = try? FileManager.default.attributesOfItem(atPath: directory + "/" + relative)
        if attributes?[.type] as? FileAttributeType == .typeRegular {
            total += (attributes?[.size] as? Int) ?? 0
        }
    }
    return total
}
