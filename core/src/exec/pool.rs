//! The threads every kernel shares.
//!
//! One work-stealing pool (rayon) serves all calls of the process: many
//! callers at once (eight Python threads, a Spark executor's tasks) share its
//! workers instead of each starting its own, so the machine is never
//! oversubscribed. Its size is the number of cores the process may use
//! (`std::thread::available_parallelism`, which respects cgroup quotas and
//! CPU affinity), or `SASH_MAX_THREADS` when that is set, or what
//! [`set_threads`] last said. With one thread no pool exists: every call runs
//! on its caller's thread.
//!
//! The thread count is execution, never semantics: a kernel that splits its
//! work merges the parts into exactly the bytes one thread gives, so results
//! do not depend on it. Small calls (under a kernel's measured threshold)
//! never leave the calling thread, so per-call overhead does not grow.
//!
//! Cancellation follows the work: while a call's tasks run on the workers,
//! the caller asks its own check and the tasks see the answer (see
//! [`crate::cancel`]).

use crate::error::{Result, SashError};
use crate::exec::cancel;
use rayon::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

/// The most threads [`set_threads`] accepts: far above any machine's cores,
/// low enough that a typo (a byte count for a thread count) is an error
/// rather than thousands of threads.
pub const MAX_THREADS: usize = 1024;

/// The environment variable that sets the default thread count.
pub const THREADS_ENV: &str = "SASH_MAX_THREADS";

static SPLIT_SMALL_INPUTS: AtomicBool = AtomicBool::new(false);

/// For tests: with `true`, every call splits its work into parts however
/// small it is (one row, one line per part), so that tests on small inputs
/// run the parallel paths; or `SASH_SPLIT_SMALL_INPUTS=1` in the environment
/// when the process starts. Never for production: it only costs time.
#[doc(hidden)]
pub fn split_small_inputs(on: bool) {
    SPLIT_SMALL_INPUTS.store(on, Ordering::Relaxed);
}

struct Pool {
    threads: usize,
    /// The workers, started by the first call that splits its work (so a
    /// process whose calls are all small never starts a thread); `None`
    /// before that and with one thread.
    rayon: Option<Arc<rayon::ThreadPool>>,
}

fn current() -> &'static Mutex<Option<Pool>> {
    static POOL: OnceLock<Mutex<Option<Pool>>> = OnceLock::new();
    POOL.get_or_init(|| Mutex::new(None))
}

/// The thread count a process starts with: `SASH_MAX_THREADS` when it is a
/// whole number from 1 to [`MAX_THREADS`] (anything else is ignored, as a
/// library must not fail on its environment), else the cores it may use.
pub fn default_threads() -> usize {
    let from_env = std::env::var(THREADS_ENV).ok().and_then(|v| v.trim().parse::<usize>().ok()).filter(|n| (1..=MAX_THREADS).contains(n));
    from_env.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()).min(MAX_THREADS))
}

fn start_workers(threads: usize) -> Option<Arc<rayon::ThreadPool>> {
    // Workers that cannot start (no threads left) leave the call on its
    // caller's thread rather than failing it: the result is the same.
    rayon::ThreadPoolBuilder::new().num_threads(threads).thread_name(|i| format!("sash-{i}")).build().ok().map(Arc::new)
}

/// Sets how many threads sash's kernels use from now on, for the whole
/// process; 0 goes back to the default ([`default_threads`]). Calls already
/// running finish on the threads they started with.
pub fn set_threads(threads: usize) -> Result<()> {
    if threads > MAX_THREADS {
        return Err(out_of_range(threads));
    }
    let threads = if threads == 0 { default_threads() } else { threads };
    let mut guard = current().lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_none_or(|pool| pool.threads != threads) {
        *guard = Some(Pool { threads, rayon: None });
    }
    Ok(())
}

/// A thread count asked for as a signed number (a Java `int`, a Python
/// `int`), for [`set_threads`]: the error it gives for a count out of range,
/// negative ones too.
pub fn requested_threads(threads: i64) -> Result<usize> {
    usize::try_from(threads).ok().filter(|&n| n <= MAX_THREADS).ok_or_else(|| out_of_range(threads))
}

fn out_of_range(threads: impl std::fmt::Display) -> SashError {
    SashError::InvalidInput(format!("threads must be from 0 (the default) to {MAX_THREADS}, got {threads}"))
}

/// How many threads sash's kernels use.
pub fn threads() -> usize {
    with_pool(false, |threads, _| threads)
}

/// `f` of the thread count and, when `workers` is asked and there is more
/// than one thread, the started workers.
fn with_pool<T>(workers: bool, f: impl FnOnce(usize, Option<Arc<rayon::ThreadPool>>) -> T) -> T {
    let (threads, rayon) = {
        let mut guard = current().lock().unwrap_or_else(|e| e.into_inner());
        let pool = guard.get_or_insert_with(|| {
            if std::env::var("SASH_SPLIT_SMALL_INPUTS").is_ok_and(|v| v == "1") {
                split_small_inputs(true);
            }
            Pool { threads: default_threads(), rayon: None }
        });
        if workers && pool.threads > 1 && pool.rayon.is_none() {
            pool.rayon = start_workers(pool.threads);
        }
        (pool.threads, if workers { pool.rayon.clone() } else { None })
    };
    f(threads, rayon)
}

/// How many parts a call with `work` units (rows, bytes) should split into
/// when each part should hold at least `min_part` of them and splitting
/// pays only with `min_threads` threads or more: 1 (stay on this thread)
/// for small calls and too few threads, else up to four parts per thread,
/// so that uneven parts are balanced by stealing.
pub(crate) fn parts_for(work: usize, min_part: usize, min_threads: usize) -> usize {
    let threads = threads();
    let (min_part, min_threads) = if SPLIT_SMALL_INPUTS.load(Ordering::Relaxed) { (1, 2) } else { (min_part, min_threads.max(2)) };
    if threads < min_threads || work < 2 * min_part {
        return 1;
    }
    (work / min_part.max(1)).clamp(1, 4 * threads)
}

/// Runs `f` on every item on the pool (on this thread when there is one
/// thread or one item) and returns the results in item order. Each task
/// asks the cancellation check of the caller.
pub(crate) fn map<I, T, F>(items: Vec<I>, f: F) -> Vec<T>
where
    I: Send,
    T: Send,
    F: Fn(I) -> T + Sync,
{
    if items.len() <= 1 {
        return items.into_iter().map(f).collect();
    }
    with_pool(true, |_, rayon| match rayon {
        None => items.into_iter().map(&f).collect(),
        Some(rayon) => match cancel::current_check() {
            // On a worker (a task splitting again) the check is already the
            // flag below, which any thread may ask.
            Some(check) if rayon::current_thread_index().is_none() => asked_by_caller(&rayon, check, items, &f),
            check => rayon.install(|| items.into_par_iter().map(|item| cancel::with_inherited(check, || f(item))).collect()),
        },
    })
}

/// [`map`] under a caller's check that only the caller's thread may ask (a
/// JVM check asks the JVM about the thread asking; Python's, the
/// interpreter): the tasks ask a flag, which this thread sets when its own
/// check says stop while it waits for them.
fn asked_by_caller<I, T, F>(rayon: &rayon::ThreadPool, check: cancel::Check<'static>, items: Vec<I>, f: &F) -> Vec<T>
where
    I: Send,
    T: Send,
    F: Fn(I) -> T + Sync,
{
    /// Says the tasks are over (also when one panicked) and wakes the caller.
    struct Done<'a> {
        done: &'a AtomicBool,
        caller: std::thread::Thread,
    }
    impl Drop for Done<'_> {
        fn drop(&mut self) {
            self.done.store(true, Ordering::Release);
            self.caller.unpark();
        }
    }
    // Asked once before the tasks start, so a call cancelled already is
    // cancelled in every task, whatever the timing.
    let stop = AtomicBool::new(check());
    let done = AtomicBool::new(false);
    let mut out = None;
    rayon.in_place_scope(|scope| {
        let (stop, out, signal) = (&stop, &mut out, Done { done: &done, caller: std::thread::current() });
        scope.spawn(move |_| {
            let _signal = signal;
            let asked = || stop.load(Ordering::Relaxed);
            *out = Some(cancel::with_check(&asked, || {
                let flag = cancel::current_check();
                items.into_par_iter().map(|item| cancel::with_inherited(flag, || f(item))).collect::<Vec<T>>()
            }));
        });
        while !done.load(Ordering::Acquire) {
            if !stop.load(Ordering::Relaxed) && check() {
                stop.store(true, Ordering::Relaxed);
            }
            std::thread::park_timeout(std::time::Duration::from_millis(2));
        }
    });
    out.expect("the scope ran the tasks (a panic in one is raised by the scope)")
}

/// [`map`] for fallible tasks: the first error in item order, else every result.
pub(crate) fn try_map<I, T, F>(items: Vec<I>, f: F) -> Result<Vec<T>>
where
    I: Send,
    T: Send,
    F: Fn(I) -> Result<T> + Sync,
{
    map(items, f).into_iter().collect()
}

/// The rows of `batches` (all of `schema`) as one batch, a column per task.
pub(crate) fn concat_batches(schema: &arrow_schema::SchemaRef, batches: &[arrow_array::RecordBatch]) -> Result<arrow_array::RecordBatch> {
    if batches.len() == 1 {
        return Ok(batches[0].clone());
    }
    let rows = batches.iter().map(|b| b.num_rows()).sum();
    let columns = try_map((0..schema.fields().len()).collect(), |c| {
        let arrays: Vec<&dyn arrow_array::Array> = batches.iter().map(|b| b.column(c).as_ref()).collect();
        Ok(arrow_select::concat::concat(&arrays)?)
    })?;
    let options = arrow_array::RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(arrow_array::RecordBatch::try_new_with_options(schema.clone(), columns, &options)?)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Tests that change the thread count hold this lock, so that tests
    /// running at once do not see each other's count.
    pub(crate) static THREADS_LOCK: Mutex<()> = Mutex::new(());

    /// Runs `f` with `n` threads, then puts the default back.
    pub(crate) fn with_threads<T>(n: usize, f: impl FnOnce() -> T) -> T {
        let _guard = THREADS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        set_threads(n).unwrap();
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                set_threads(0).unwrap();
            }
        }
        let _reset = Reset;
        f()
    }

    #[test]
    fn the_thread_count_is_set_read_and_reset() {
        with_threads(3, || {
            assert_eq!(threads(), 3);
            assert_eq!(map((0..100).collect(), |i: i32| i * 2), (0..100).map(|i| i * 2).collect::<Vec<_>>());
            set_threads(1).unwrap();
            assert_eq!(threads(), 1);
            assert_eq!(parts_for(1 << 30, 1, 2), 1);
            set_threads(3).unwrap();
            assert_eq!(parts_for(1 << 30, 1, 2), 12, "four parts per thread");
            assert_eq!(parts_for(7, 4, 2), 1, "under two parts' worth stays whole");
            assert_eq!(parts_for(1 << 30, 1, 4), 1, "too few threads to pay");
        });
        assert!(set_threads(MAX_THREADS + 1).is_err());
        assert_eq!(requested_threads(3).unwrap(), 3);
        for bad in [-1, MAX_THREADS as i64 + 1] {
            assert_eq!(requested_threads(bad).unwrap_err().to_string(), set_threads_error(bad));
        }
        assert!(threads() >= 1);
    }

    fn set_threads_error(n: i64) -> String {
        SashError::InvalidInput(format!("threads must be from 0 (the default) to {MAX_THREADS}, got {n}")).to_string()
    }

    #[test]
    fn tasks_ask_the_callers_cancellation_check() {
        with_threads(2, || {
            let stop = || true;
            let results = cancel::with_check(&stop, || map(vec![1, 2, 3, 4], |_| cancel::check().is_err()));
            assert_eq!(results, vec![true; 4]);
            assert_eq!(map(vec![1, 2], |_| cancel::check().is_err()), vec![false; 2]);
        });
    }

    /// A check that answers only on the thread that installed it (as the
    /// JVM's does: it asks about the asking thread) still stops the tasks.
    #[test]
    fn a_check_only_its_own_thread_may_ask_stops_the_tasks() {
        with_threads(2, || {
            let caller = std::thread::current().id();
            let started = std::time::Instant::now();
            let interrupted = || std::thread::current().id() == caller && started.elapsed() > std::time::Duration::from_millis(20);
            let results = cancel::with_check(&interrupted, || {
                map((0..4).collect(), |_: i32| loop {
                    if cancel::check().is_err() {
                        return true;
                    }
                    assert!(started.elapsed() < std::time::Duration::from_secs(20), "the tasks were never told to stop");
                    std::thread::sleep(std::time::Duration::from_millis(1));
                })
            });
            assert_eq!(results, vec![true; 4]);
        });
    }

    #[test]
    fn try_map_gives_the_first_error_in_item_order() {
        with_threads(2, || {
            let out = try_map((0..64).collect(), |i: usize| if i % 10 == 7 { Err(SashError::InvalidInput(format!("{i}"))) } else { Ok(i) });
            assert_eq!(out.unwrap_err().to_string(), SashError::InvalidInput("7".into()).to_string());
        });
    }
}
