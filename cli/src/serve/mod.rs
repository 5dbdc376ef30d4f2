//! `sash serve`: the kernel as a local service, Arrow IPC over a Unix domain
//! socket (`docs/protocol.md`). One thread per connection, requests answered
//! one after the other on each; the kernels share the process' pool.
//!
//! `wire` reads and writes the bytes (frames, IPC streams under limits),
//! `ops` runs the operations, this file listens, checks peers, and shuts
//! down cleanly.

mod ops;
pub mod wire;

use crate::args::ServeArgs;
use crate::error::{CliError, CliResult, EXIT_OK};
use ops::{Answer, Fail, Failure, Sessions};
use std::io::{BufReader, BufWriter, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use wire::IpcInput;

/// How often idle waits look at the stop flag.
const TICK_MS: i32 = 100;

#[derive(Debug)]
struct Options {
    timeout: Duration,
    max_message_bytes: u64,
    max_clients: usize,
    window_part_bytes: usize,
    allowed_uids: Vec<u32>,
    quiet: bool,
}

pub(crate) fn run(args: ServeArgs, quiet: bool) -> CliResult<i32> {
    let mode = u32::from_str_radix(args.mode.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| CliError::usage(format!("--mode: '{}' is not an octal file mode such as 600", args.mode)))?;
    let timeout = crate::spec::wall_duration("--timeout", &args.timeout)?;
    if timeout.is_zero() {
        return Err(CliError::usage("--timeout must be longer than 0"));
    }
    if args.max_clients == 0 {
        return Err(CliError::usage("--max-clients must be at least 1"));
    }
    // SAFETY: geteuid has no preconditions.
    let own_uid = unsafe { libc::geteuid() };
    let mut allowed_uids = vec![own_uid];
    allowed_uids.extend(&args.allow_uid);
    let options = Arc::new(Options {
        timeout,
        max_message_bytes: args.max_message_bytes,
        max_clients: args.max_clients,
        window_part_bytes: args.window_part_bytes,
        allowed_uids,
        quiet,
    });

    let listener = bind(&args.socket, mode)?;
    let _socket_file = RemoveOnDrop(args.socket.clone());
    if !quiet {
        eprintln!("sash serve: listening on {} (protocol 1; SIGTERM or Ctrl-C stops)", args.socket.display());
    }
    let active = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    let mut next_id = 0u64;
    while !crate::signals::stop_requested() {
        if !wait_readable(listener.as_raw_fd(), TICK_MS) {
            threads.retain(|t: &std::thread::JoinHandle<()>| !t.is_finished());
            continue;
        }
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted) => continue,
            Err(e) => {
                // Out of descriptors and the like: say so, and keep serving the clients there are.
                eprintln!("sash serve: accept failed: {e}");
                std::thread::sleep(Duration::from_millis(TICK_MS as u64));
                continue;
            }
        };
        next_id += 1;
        if let Err(refusal) = admit(&stream, &options, &active) {
            let _ = stream.set_write_timeout(Some(options.timeout));
            let _ = Answer::new(&mut &stream).fail(&refusal, true);
            continue;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let (shared_options, shared_active) = (options.clone(), active.clone());
        let spawned = std::thread::Builder::new().name(format!("sash-serve-{next_id}")).spawn(move || {
            // Counted out however the connection ends, a panic outside a request included.
            let _leaving = Leaving(shared_active);
            serve_connection(stream, &shared_options);
        });
        match spawned {
            Ok(thread) => threads.push(thread),
            Err(e) => {
                active.fetch_sub(1, Ordering::SeqCst);
                eprintln!("sash serve: cannot start a thread for a client: {e}");
            }
        }
    }
    // New clients find no socket; those connected finish what they asked.
    drop(_socket_file);
    drop(listener);
    for thread in threads {
        let _ = thread.join();
    }
    if !quiet {
        eprintln!("sash serve: stopped");
    }
    Ok(EXIT_OK)
}

/// A client's place among `--max-clients`, given back when its thread ends.
struct Leaving(Arc<AtomicUsize>);

impl Drop for Leaving {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Removes the socket file when the server stops (also on an error).
struct RemoveOnDrop(PathBuf);

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Listens on `path`, created with `mode` from the start (no moment where
/// another user could connect). A stale socket file of a server that is
/// gone is replaced; a live server's, or any other file, is not.
fn bind(path: &Path, mode: u32) -> CliResult<UnixListener> {
    let shown = path.display();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(CliError::io(format!("{shown} exists and is not a socket: not replacing it")));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(CliError::io(format!("another server is listening on {shown}")));
        }
        std::fs::remove_file(path).map_err(|e| CliError::io_while(&format!("removing the stale socket {shown}"), &e))?;
    }
    // SAFETY: umask only swaps the process' file mode mask; no thread of
    // this process creates files while the server starts.
    let previous = unsafe { libc::umask(0o777 & !(mode as libc::mode_t)) };
    let bound = UnixListener::bind(path);
    // SAFETY: as above.
    unsafe { libc::umask(previous) };
    let listener = bound.map_err(|e| CliError::io_while(&format!("listening on {shown}"), &e))?;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
    listener.set_nonblocking(true).map_err(|e| CliError::io_while("setting up the socket", &e))?;
    Ok(listener)
}

/// Whether a new connection may be served: its peer's uid, and room.
fn admit(stream: &UnixStream, options: &Options, active: &AtomicUsize) -> Result<(), Fail> {
    stream.set_nonblocking(false).map_err(|e| Fail::new("internal", e.to_string()))?;
    match peer_uid(stream.as_raw_fd()) {
        Some(uid) if options.allowed_uids.contains(&uid) => {}
        Some(uid) => {
            return Err(Fail::new(
                "permission_denied",
                format!(
                    "permission denied: uid {uid} may not use this server (it serves uid {}; see --allow-uid)",
                    options.allowed_uids[0]
                ),
            ))
        }
        None => return Err(Fail::new("permission_denied", "permission denied: the peer's credentials cannot be read")),
    }
    if active.load(Ordering::SeqCst) >= options.max_clients {
        return Err(Fail::new(
            "resource_limit",
            format!("resource limit: the server serves {} clients at once (--max-clients); try again later", options.max_clients),
        ));
    }
    Ok(())
}

/// The uid of the process at the other end (SO_PEERCRED).
fn peer_uid(fd: RawFd) -> Option<u32> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: `cred` and `len` are valid for writes of the sizes given.
    let rc = unsafe { libc::getsockopt(fd, libc::SOL_SOCKET, libc::SO_PEERCRED, (&mut cred as *mut libc::ucred).cast(), &mut len) };
    (rc == 0).then_some(cred.uid)
}

/// Waits up to `timeout_ms` for `fd` to be readable (or closed).
fn wait_readable(fd: RawFd, timeout_ms: i32) -> bool {
    let mut poll = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut poll, 1, timeout_ms) > 0 }
}

/// Whether the peer closed its end (both directions): the kernel's
/// cancellation check during a call, so a client that disconnects stops its work.
fn hung_up(fd: RawFd) -> bool {
    let mut poll = libc::pollfd { fd, events: 0, revents: 0 };
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut poll, 1, 0) };
    ready > 0 && poll.revents & (libc::POLLHUP | libc::POLLERR) != 0
}

fn serve_connection(stream: UnixStream, options: &Options) {
    let fd = stream.as_raw_fd();
    let (Ok(read_half), Ok(write_half)) = (stream.try_clone(), stream.try_clone()) else { return };
    let _ = stream.set_read_timeout(Some(options.timeout));
    let _ = stream.set_write_timeout(Some(options.timeout));
    let mut reader = BufReader::with_capacity(1 << 16, read_half);
    let mut writer = BufWriter::with_capacity(1 << 16, write_half);
    let mut sessions = Sessions::default();
    loop {
        // Idle between requests: wait for the next one, or for the stop.
        while reader.buffer().is_empty() && !wait_readable(fd, TICK_MS) {
            if crate::signals::stop_requested() {
                return;
            }
        }
        let header = match wire::read_frame(&mut reader) {
            Ok(Some(header)) => header,
            Ok(None) => return,
            Err(e) => {
                if e.kind != "gone" {
                    let _ = Answer::new(&mut writer).fail(&Fail::new(e.kind, e.message), true);
                }
                return;
            }
        };
        let op = header.get("op").and_then(|v| v.as_str()).unwrap_or("").to_string();
        let has_input = wire::takes_input(&op, &header);
        let mut input = IpcInput::new(&mut reader, options.max_message_bytes);
        let mut answer = Answer::new(&mut writer);
        let outcome = sash_ffi::panic::catch(|| {
            sash_core::cancel::with_check(&|| hung_up(fd), || {
                ops::run(&op, &header, &mut input, &mut answer, &mut sessions, options.window_part_bytes)
            })
        });
        let failure = match outcome {
            Ok(Ok(())) => continue,
            Ok(Err(failure)) => failure,
            Err(panic) => Failure::Fatal(Fail::new("internal", sash_ffi::panic::internal_message(panic.as_ref()))),
        };
        let fail = match failure {
            Failure::Gone => return,
            Failure::Fatal(fail) => {
                if !options.quiet && fail.kind == "internal" {
                    eprintln!("sash serve: {} (please report it)", fail.message);
                }
                let _ = answer.fail(&fail, true);
                return;
            }
            Failure::Call(fail) => fail,
        };
        // Read what is left of the request, so that the next one can be.
        let drained = if has_input && !input.is_broken() { input.drain() } else { Ok(()) };
        match drained {
            Ok(()) if !input.is_broken() => {
                if answer.fail(&fail, false).is_err() {
                    return;
                }
            }
            Ok(()) => {
                let _ = answer.fail(&Fail::new("protocol", fail.message), true);
                return;
            }
            Err(e) => {
                if e.kind != "gone" {
                    let _ = answer.fail(&Fail::new(e.kind, e.message), true);
                }
                return;
            }
        }
        let _ = writer.flush();
    }
}
