//! `sash parse`: log files to typed columns, every line a row.

use crate::args::{OutputFormat, ParseArgs};
use crate::error::{CliError, CliResult, EXIT_DATA_ERRORS, EXIT_OK};
use crate::input::{total_size, BytesRead};
use crate::logs::{errors_schema, for_each_batch, without_error_column, FailedRows};
use crate::output::Target;
use crate::progress::{Counts, Progress};
use crate::spec::parse_spec_json;
use sash_core::{Parser, StringOutput};

pub fn run(args: ParseArgs, quiet: bool) -> CliResult<i32> {
    let target = Target::from_args(&args.out)?;
    let (spec_json, mut spec) = parse_spec_json(&args.log)?;
    // Unless the user chose the string type (`"strings"` in --parse-spec).
    if matches!(target.format, OutputFormat::Arrow | OutputFormat::Arrows) && spec_json.get("strings").is_none() {
        // The file holds plain strings (output::plain_strings_schema): the parser
        // copies each once as it parses, rather than views copied again to be written.
        spec.strings = StringOutput::Utf8;
    }
    let errors_target = args.errors.as_deref().map(Target::side_file);
    if let (Some(errors), Some(out)) = (&args.errors, &target.path) {
        if errors == out {
            return Err(CliError::usage("--errors and -o name the same file"));
        }
    }
    let schema = Parser::new(&spec)?.schema();
    let (schema, failed_rows) = match errors_target {
        Some(_) => (without_error_column(&schema), FailedRows::Remove),
        None => (schema, FailedRows::Keep),
    };
    let mut out = target.open(&schema)?;
    let mut errors = errors_target.map(|t| t.open(&errors_schema())).transpose()?;
    let read = BytesRead::default();
    let progress = Progress::new(total_size(&args.files), read.clone(), quiet);
    let mut counts = Counts::default();
    for_each_batch(&args.files, &spec, args.log.chunk_bytes, &read, &mut counts, &progress, errors.as_mut(), failed_rows, |batch, _| {
        out.write(&batch)
    })?;
    counts.rows_out = out.rows;
    progress.clear();
    if let Some(errors) = errors {
        errors.commit()?;
    }
    out.commit()?;
    progress.finish("parse", &counts, &target.describe());
    Ok(if args.strict && counts.failed > 0 { EXIT_DATA_ERRORS } else { EXIT_OK })
}
