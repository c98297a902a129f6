//! The process's global allocator: jemalloc (`tikv-jemallocator`), and its background thread,
//! which `serve` starts so that memory freed after a load goes back to the system within seconds
//! even when nothing allocates any more (dirty pages decay over jemalloc's default 10 s). With
//! glibc's malloc a gateway that had held 1,000 streams stayed at 117 MiB once they had closed
//! (per-thread arenas, never trimmed); measured by bench/run.sh ("Memory comes back").

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Starts jemalloc's background thread (one at most), which returns freed pages to the system
/// as they decay. For the long-running `serve`; a short command exits first. A failure is
/// logged (memory then comes back only while the gateway keeps allocating).
pub fn return_freed_memory() {
    #[cfg(not(target_env = "msvc"))]
    {
        use tikv_jemalloc_ctl::{background_thread, max_background_threads};
        let started =
            max_background_threads::write(1).and_then(|()| background_thread::write(true));
        if let Err(e) = started {
            tracing::warn!(
                "cannot start jemalloc's background thread ({e}): memory freed after a load is \
                 returned to the system only while the gateway keeps allocating"
            );
        }
    }
}

#[cfg(all(test, not(target_env = "msvc")))]
mod tests {
    use tikv_jemalloc_ctl::{background_thread, max_background_threads, thread};

    #[test]
    fn allocations_go_to_jemalloc() {
        // This thread's count of bytes allocated through jemalloc grows with a `Vec`: the global
        // allocator is jemalloc, not the system's.
        let counter = thread::allocatedp::read().expect("jemalloc's thread.allocatedp");
        let before = counter.get();
        let v: Vec<u8> = vec![7; 1 << 20];
        let after = counter.get();
        assert_eq!(v.len(), 1 << 20);
        assert!(after - before >= 1 << 20, "{before} -> {after}");
    }

    #[test]
    fn background_thread_starts() {
        super::return_freed_memory();
        assert_eq!(max_background_threads::read().ok(), Some(1));
        assert_eq!(background_thread::read().ok(), Some(true));
    }
}
