//! A counting semaphore over decoded pixels: a source is decoded only when its pixels fit in
//! what is left of the budget, so memory follows the budget, not the number of images or
//! threads. A source larger than the whole budget waits until it can run alone.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

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

    /// Takes `pixels` (at most the whole budget) once they are free. On a rayon worker it runs
    /// other queued jobs while it waits, so the jobs holding the pixels finish even on a pool
    /// of one thread. Jobs that hold a permit must never call this: a thread can run a queued
    /// job while it waits on its own, and would then wait on itself.
    pub(crate) fn acquire_helping(&self, pixels: u64) -> Permit<'_> {
        let pixels = pixels.min(self.capacity);
        loop {
            let mut in_use = self.lock();
            if *in_use + pixels <= self.capacity {
                *in_use += pixels;
                return Permit { budget: self, pixels };
            }
            drop(in_use);
            if rayon::yield_now() == Some(rayon::Yield::Executed) {
                continue;
            }
            // Nothing to run here: sleep until a permit is released. The timeout covers a
            // release between the check above and this wait.
            let in_use = self.lock();
            if *in_use + pixels > self.capacity {
                let _ = self.released.wait_timeout(in_use, Duration::from_millis(20));
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, u64> {
        self.in_use.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut in_use = self.budget.lock();
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
                    let permit = budget.acquire_helping(pixels);
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

    /// The image stage's pattern: admit in a loop, spawn jobs that fan out with nested
    /// parallel iterators. On small pools the admitting thread must run the jobs it waits for.
    #[test]
    fn admitting_jobs_that_fan_out_finishes_on_any_pool_size() {
        use rayon::prelude::*;
        for threads in [1, 2, 3] {
            let (sender, receiver) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let budget = PixelBudget::new(100);
                let done = AtomicU64::new(0);
                pool.install(|| {
                    rayon::scope(|scope| {
                        for pixels in [60, 60, 150, 30, 30, 90, 10] {
                            let permit = budget.acquire_helping(pixels);
                            let done = &done;
                            scope.spawn(move |_| {
                                let sum: u64 = (0..256u64).into_par_iter().map(|x| x % 7).sum();
                                std::thread::sleep(std::time::Duration::from_millis(2));
                                done.fetch_add(u64::from(sum > 0), Ordering::SeqCst);
                                drop(permit);
                            });
                        }
                    });
                });
                let _ = sender.send(done.load(Ordering::SeqCst));
            });
            let finished = receiver.recv_timeout(std::time::Duration::from_secs(60));
            assert_eq!(finished, Ok(7), "{threads} thread(s): deadlocked or lost a job");
        }
    }
}
