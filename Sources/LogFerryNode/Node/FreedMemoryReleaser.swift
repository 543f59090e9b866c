import CLogFerryPOSIX
import ServiceLifecycle

/// Gives the memory an agent has freed back to the kernel a moment after it was freed.
///
/// glibc returns freed heap memory to the kernel only from the top of the heap. A draining agent frees a
/// batch-sized buffer (a record read from the spool, its sealed copy, its frame) for every record, between
/// buffers still in use, so the heap kept 3–4 MB of freed pages resident for good: the agent's peak while
/// draining a backlog was 30–31 MB against 25 MB before the drain. Serving those sizes with mmap instead
/// returns them at once but costs 40% more CPU (fresh zeroed pages for every buffer). Trimming a few times
/// a second is the middle way, like jemalloc's decay of dirty pages: the pages freed in the last interval
/// are given back, and the next buffers fault in at most that many again.
/// Docs/PERFORMANCE.md has the measurements.
public struct FreedMemoryReleaser: Service {
    /// How long freed memory may stay resident.
    public let interval: Duration

    /// Creates a releaser that trims every `interval`.
    public init(interval: Duration = .milliseconds(250)) {
        self.interval = interval
    }

    /// Trims every ``interval`` until graceful shutdown (at once, not at the next tick) or cancellation.
    public func run() async throws {
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
            } catch {
                return
            }
            _ = logferry_malloc_trim()
        }
    }
}
