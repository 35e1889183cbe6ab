//! Several trainings at once (`compare --jobs`, `sweep --jobs`), each on its share of the cores.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{Error, Result};

/// Threads each of `jobs` concurrent trainings gets: the machine's cores shared out, at least
/// one each.
pub fn threads_per_job(jobs: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / jobs.max(1)).max(1)
}

/// Calls `work(k)` for every `k < count`, `jobs` calls at a time. With one job every call runs
/// on the caller's Rayon pool (all cores); with more, each worker owns a pool of
/// [`threads_per_job`] threads and runs its calls there, so the products of one training do
/// not contend with another's for the same cores. The first failure stops new calls and is
/// returned once the calls in flight end.
pub fn for_each_job(
    count: usize,
    jobs: usize,
    work: impl Fn(usize) -> Result<()> + Sync,
) -> Result<()> {
    let jobs = jobs.clamp(1, count.max(1));
    if jobs == 1 {
        return (0..count).try_for_each(work);
    }
    let threads = threads_per_job(jobs);
    let next = AtomicUsize::new(0);
    let failure: Mutex<Option<Error>> = Mutex::new(None);
    let fail = |error: Error| {
        if let Ok(mut slot) = failure.lock() {
            slot.get_or_insert(error);
        }
    };
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| {
                let pool = match rayon::ThreadPoolBuilder::new().num_threads(threads).build() {
                    Ok(pool) => pool,
                    Err(e) => return fail(Error::config("--jobs", e.to_string())),
                };
                loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    if k >= count || failure.lock().map(|f| f.is_some()).unwrap_or(true) {
                        break;
                    }
                    if let Err(error) = pool.install(|| work(k)) {
                        fail(error);
                        break;
                    }
                }
            });
        }
    });
    match failure.into_inner() {
        Ok(Some(error)) => Err(error),
        _ => Ok(()),
    }
}
