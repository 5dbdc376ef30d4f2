//! The request decoder of `sash serve`: any bytes a peer may send are read
//! as frames and Arrow IPC streams without a panic, and without memory beyond
//! what the bytes themselves are (a declared length is never trusted).

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = sash_cli::wire::decode_requests(data);
});
