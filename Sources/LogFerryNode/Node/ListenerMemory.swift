import CLogFerryPOSIX

/// How a listener (receiver, relay) asks glibc's malloc to keep the memory it frees.
///
/// A listener allocates and frees a batch-sized buffer (up to a few MiB) for every batch it takes. glibc serves
/// such sizes with mmap, or gives them back to the kernel as soon as they are freed, so every batch paid for
/// fresh zeroed pages: page faults and `madvise` were 8–9% of a receiver's CPU. Keeping freed memory up to
/// 64 MiB in the heap costs a listener 2–3 MiB of resident memory and saves about 15% of its CPU
/// (Docs/PERFORMANCE.md). An agent frees few such buffers and keeps glibc's defaults, for its smaller RSS.
public enum ListenerMemory {
    /// Allocations below this come from the heap instead of their own mmap.
    public static let mmapThreshold = 32 << 20
    /// Freed heap memory is given back to the kernel only beyond this much.
    public static let trimThreshold = 64 << 20

    /// Applies the thresholds to this process; false when glibc refused them.
    @discardableResult
    public static func keepFreedBuffers() -> Bool {
        logferry_malloc_keep_freed(mmapThreshold, trimThreshold) == 1
    }
}
