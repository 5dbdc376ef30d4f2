//! `WindowStream::restore` against hostile bytes (`cargo fuzz run
//! stream_restore`): any input must give an error or a stream that works
//! (push, snapshot, finish), never a panic, an abort or a hang. Seeded with
//! the golden snapshot of tests/data/streams.
//!
//! arrow-ipc panics on some inconsistent messages (a validity bitmap shorter
//! than its rows, ...); `restore` catches those panics and reports a corrupt
//! snapshot. libFuzzer's panic hook would abort on them even though they are
//! caught, so the target replaces the hook with a silent one: a panic that
//! escapes `restore` still reaches libfuzzer-sys, which aborts (a crash).
#![no_main]

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

static QUIET_HOOK: std::sync::Once = std::sync::Once::new();

fuzz_target!(|data: &[u8]| {
    QUIET_HOOK.call_once(|| std::panic::set_hook(Box::new(|_| {})));
    let Ok(mut stream) = sash_core::WindowStream::restore(data) else { return };
    let snapshot = stream.snapshot().expect("a restored stream has a snapshot");
    let again = sash_core::WindowStream::restore(&snapshot).expect("its own snapshot restores");
    assert_eq!(again.snapshot().expect("snapshot"), snapshot, "snapshot(restore(x)) == x");
    let batch = RecordBatch::try_from_iter([
        ("ts", Arc::new(Int64Array::from(vec![1, 50])) as ArrayRef),
        ("key", Arc::new(StringArray::from(vec!["a", "c"])) as ArrayRef),
        ("v", Arc::new(Float64Array::from(vec![1.0, 2.0])) as ArrayRef),
    ])
    .expect("batch");
    let _ = stream.push(&batch);
    let _ = stream.take_late();
    let _ = stream.finish();
});
