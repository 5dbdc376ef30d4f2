//! What the command's test files share.

use arrow_array::RecordBatch;
use arrow_select::concat::concat_batches;
use std::path::Path;

/// An Arrow IPC file, in one batch.
pub fn read_ipc(path: &Path) -> RecordBatch {
    let reader = arrow_ipc::reader::FileReader::try_new(std::fs::File::open(path).unwrap(), None).unwrap();
    let schema = reader.schema();
    let batches: Vec<RecordBatch> = reader.map(Result::unwrap).collect();
    concat_batches(&schema, &batches).unwrap()
}
