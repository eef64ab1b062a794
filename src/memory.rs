//! Handing freed memory back to the system. glibc keeps freed heap in its arenas, so after a
//! large snapshot (or a burst of connections) is dropped the process would otherwise stay at
//! its peak for good.

use std::sync::atomic::{AtomicI64, Ordering};

/// Hands the allocator's free pages back to the system.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn release_free_memory() {
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn release_free_memory() {}

/// As [`release_free_memory`], at most once a second however often it is asked (sources on
/// short intervals drop data often; trimming walks the whole heap).
pub fn release_free_memory_now_and_then() {
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = chrono::Utc::now().timestamp_millis();
    let last = LAST.load(Ordering::Relaxed);
    if now - last >= 1_000 && LAST.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok() {
        release_free_memory();
    }
}
