//! A counting semaphore over decoded pixels: a source is decoded only when its pixels fit in
//! what is left of the budget, so memory follows the budget, not the number of images or
//! threads. A source larger than the whole budget waits until it can run alone.

use std::sync::{Condvar, Mutex, PoisonError};

#[derive(Debug)]
pub(crate) struct PixelBudget {
    capacity: u64,
    in_use: Mutex<u64>,
    released: Condvar,
}

/// Pixels held until dropped.
#[derive(Debug)]
pub(crate) struct Permit<'a> {
    budget: &'a PixelBudget,
    pixels: u64,
}

impl PixelBudget {
    pub(crate) fn new(capacity: u64) -> PixelBudget {
        PixelBudget { capacity: capacity.max(1), in_use: Mutex::new(0), released: Condvar::new() }
    }

    /// Blocks until `pixels` (at most the whole budget) are free, and takes them.
    pub(crate) fn acquire(&self, pixels: u64) -> Permit<'_> {
        let pixels = pixels.min(self.capacity);
        let mut in_use = self.in_use.lock().unwrap_or_else(PoisonError::into_inner);
        while *in_use + pixels > self.capacity {
            in_use = self.released.wait(in_use).unwrap_or_else(PoisonError::into_inner);
        }
        *in_use += pixels;
        Permit { budget: self, pixels }
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut in_use = self.budget.in_use.lock().unwrap_or_else(PoisonError::into_inner);
        *in_use -= self.pixels;
        self.budget.released.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;

    #[test]
    fn never_lets_more_than_the_budget_in() {
        let budget = PixelBudget::new(100);
        let held = AtomicU64::new(0);
        let peak = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for pixels in [60, 60, 30, 30, 500, 10] {
                let (budget, held, peak) = (&budget, &held, &peak);
                scope.spawn(move || {
                    let permit = budget.acquire(pixels);
                    let now = held.fetch_add(permit.pixels, Ordering::SeqCst) + permit.pixels;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    held.fetch_sub(permit.pixels, Ordering::SeqCst);
                });
            }
        });
        assert!(peak.load(Ordering::SeqCst) <= 100);
        assert_eq!(*budget.in_use.lock().unwrap(), 0);
    }
}
