import Dispatch

/// Runs `fdatasync` calls on a dedicated serial queue, off Swift's cooperative thread pool.
///
/// The spool actor stays free while a sync runs, so appends arriving meanwhile are written and then covered by
/// the next sync together (group commit).
struct SpoolSyncer: Sendable {
    /// A file to sync and its path for error messages.
    struct File: Sendable {
        var fd: Int32
        var path: String
    }

    private let queue: DispatchQueue

    init(label: String) {
        queue = DispatchQueue(label: label)
    }

    /// Syncs `files` and then, when given, `directory`; returns the first error.
    func sync(_ files: [File], directory: String?) async -> Result<Void, POSIXError> {
        await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: Self.perform(files, directory: directory))
            }
        }
    }

    private static func perform(_ files: [File], directory: String?) -> Result<Void, POSIXError> {
        do throws(POSIXError) {
            for file in files { try POSIXFile.dataSync(file.fd, path: file.path) }
            if let directory { try POSIXFile.syncDirectory(directory) }
            return .success(())
        } catch {
            return .failure(error)
        }
    }
}
