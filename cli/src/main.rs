//! The `sash` executable: everything is in the library (`sash_cli::main`),
//! which the Python wheel's `sash` console script runs too.

// The parse's page faults and the merge of its parts' outputs are
// allocation-bound; mimalloc reuses freed pages instead of handing them back
// (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(sash_cli::main(std::env::args_os()));
}
