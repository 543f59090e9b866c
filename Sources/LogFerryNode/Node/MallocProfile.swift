import CLogFerryPOSIX

/// How a node asks glibc's malloc to behave, chosen by what the node does.
///
/// The two kinds of node free memory differently (Docs/PERFORMANCE.md has the measurements):
/// - A **listener** (receiver, relay) allocates and frees a batch-sized buffer (up to a few MiB) for every batch it
///   takes. glibc serves such sizes with mmap, or gives them back to the kernel as soon as they are freed, so every
///   batch paid for fresh zeroed pages: page faults and `madvise` were 8–9% of a receiver's CPU. Keeping freed
///   memory up to 64 MiB in the heap saves about 15% of its CPU for 2–3 MiB more resident memory.
/// - An **edge** node (agent) reads records on one thread and frees them on another; with glibc's arena per thread
///   each thread's arena kept its own freed batches, and an agent draining a backlog after a restart peaked at
///   42 MB. One arena brings that to 35 MB (and the steady peak down 1–2 MB) at no CPU cost measured.
public enum MallocProfile: Sendable {
    /// Receivers and relays: keep freed batch buffers in the heap for the next batch.
    case listener
    /// Agents: one arena for every thread, for the smallest footprint.
    case edge

    /// Allocations below this come from the heap instead of their own mmap (listener).
    public static let mmapThreshold = 32 << 20
    /// Freed heap memory is given back to the kernel only beyond this much (listener).
    public static let trimThreshold = 64 << 20

    /// Applies the profile to this process; `edge` only takes full effect before a second thread allocates. False
    /// when glibc refused a setting (the node then runs with glibc's defaults).
    @discardableResult
    public func apply() -> Bool {
        switch self {
        case .listener:
            return logferry_malloc_keep_freed(Self.mmapThreshold, Self.trimThreshold) == 1
        case .edge:
            return logferry_malloc_single_arena() == 1
        }
    }
}
