//! One memory budget for the request bodies in flight: the bytes read from clients and the
//! bytes a gzip body inflates to are charged before they are kept, and a request that would
//! pass the budget is refused (503) instead of growing the process.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Default budget (`--max-memory`): room for 4 requests at the largest limits (25 MiB sent,
/// 100 MiB inflated) or for about a thousand typical crashes (~400 KB) at once.
pub const DEFAULT_MAX_MEMORY: u64 = 512 * 1024 * 1024;

/// After a request that held this much is done, unused heap is handed back to the system.
const TRIM_AFTER: u64 = 8 * 1024 * 1024;

/// The shared budget.
#[derive(Debug)]
pub struct MemoryBudget {
    used: AtomicU64,
    max: u64,
}

impl MemoryBudget {
    pub fn new(max: u64) -> Arc<MemoryBudget> {
        Arc::new(MemoryBudget { used: AtomicU64::new(0), max })
    }

    /// Bytes charged now.
    pub fn in_use(&self) -> u64 {
        self.used.load(Ordering::SeqCst)
    }

    pub fn max(&self) -> u64 {
        self.max
    }

    /// An empty reservation that grows with the request.
    pub fn reserve(self: &Arc<Self>) -> Reservation {
        Reservation { budget: Arc::clone(self), bytes: 0 }
    }
}

/// What one request holds; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    budget: Arc<MemoryBudget>,
    bytes: u64,
}

impl Reservation {
    /// Charges `n` more bytes; `false` (nothing charged) when the budget cannot hold them.
    pub fn grow(&mut self, n: u64) -> bool {
        let max = self.budget.max;
        let ok = self
            .budget
            .used
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |used| used.checked_add(n).filter(|t| *t <= max))
            .is_ok();
        if ok {
            self.bytes += n;
        }
        ok
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, Ordering::SeqCst);
        if self.bytes >= TRIM_AFTER {
            trim_heap();
        }
    }
}

/// Returns freed heap pages to the system (glibc keeps them otherwise: ~290 MB stayed
/// allocated after a burst of gzip bombs).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory of the allocator; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservations_share_the_budget_and_give_it_back() {
        let b = MemoryBudget::new(100);
        let mut r1 = b.reserve();
        let mut r2 = b.reserve();
        assert!(r1.grow(60));
        assert!(!r2.grow(41), "past the budget");
        assert_eq!(r2.bytes(), 0, "a refused charge takes nothing");
        assert!(r2.grow(40));
        assert_eq!(b.in_use(), 100);
        drop(r1);
        assert_eq!(b.in_use(), 40);
        assert!(r2.grow(60));
        drop(r2);
        assert_eq!(b.in_use(), 0);
    }
}
