//! Input plumbing shared by the operators: sorting and slicing the input by
//! time (`prepare`, `time_sort`), reading the time column (`time`), grouping
//! rows by key (`grouper`), building output columns (`column_builder`),
//! stream snapshots (`snapshot`), cooperative cancellation (`cancel`) and
//! the thread pool every kernel shares (`pool`). Nothing here knows a window or a
//! rolling frame.

pub mod cancel;
pub(crate) mod column_builder;
pub(crate) mod grouper;
pub mod pool;
pub(crate) mod prepare;
pub(crate) mod snapshot;
pub(crate) mod stream_groups;
pub(crate) mod time;
pub(crate) mod time_sort;
