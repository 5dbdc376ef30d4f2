//! The command line: subcommands, their options and their help.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const ABOUT: &str = "Parse log files into typed columns and aggregate them over event-time windows, at GB/s";

const EXAMPLES: &str = "\
Examples:
  sash parse access.log --format combined -o access.parquet
  sash parse access.log.1.gz access.log --format combined --errors rejected.jsonl -o access.arrow
  sash window access.log --format combined --every 10m --by status --agg 'count() as requests'
  sash rolling metrics.parquet --time ts --period 5m --by host --agg 'mean(cpu) as cpu_5m' -o out.parquet
  sash completions bash > /etc/bash_completion.d/sash

Exit status: 0 ok; 1 lines failed to parse or rows were late, with --strict (the output is
still written); 2 usage or I/O error (no output file is created or changed); 130 interrupted.";

#[derive(Debug, Parser)]
#[command(name = "sash", version, about = ABOUT, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    /// Threads to use (default: the cores this process may use, or SASH_MAX_THREADS)
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,
    /// No progress bar and no summary on stderr
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse log files into typed columns: one row per line, none dropped
    #[command(after_help = PARSE_EXAMPLES)]
    Parse(ParseArgs),
    /// Aggregate rows over tumbling, hopping or session windows of event time
    #[command(after_help = WINDOW_EXAMPLES)]
    Window(WindowArgs),
    /// Aggregate, for every row, the rows of its key in the period before it
    #[command(after_help = ROLLING_EXAMPLES)]
    Rolling(RollingArgs),
    /// Follow a growing log (like tail -F) and write each window once event time passes it,
    /// with exactly-once checkpoints
    #[command(after_help = FOLLOW_EXAMPLES)]
    Follow(FollowArgs),
    /// Serve the kernel over a Unix domain socket: Arrow IPC in, Arrow IPC out (docs/protocol.md)
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    #[command(
        after_help = "Examples:\n  sash completions bash > ~/.local/share/bash-completion/completions/sash\n  sash completions zsh > \"${fpath[1]}/_sash\"\n  sash completions fish > ~/.config/fish/completions/sash.fish"
    )]
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

const PARSE_EXAMPLES: &str = "\
Examples:
  sash parse access.log --format combined -o access.parquet
  zcat access.log.*.gz | sash parse - --format combined --output-format jsonl | head
  sash parse app.log --format logfmt --field ts:timestamp --field level:string --field ms:int -o app.arrow
  sash parse custom.log --format regex --pattern '^(?P<ts>\\S+) (?P<msg>.*)$' --type ts:timestamp -o out.csv
  sash parse app.log --format grok --pattern '%{TIMESTAMP_ISO8601:ts} %{LOGLEVEL:level} %{GREEDYDATA:msg}' --type ts:timestamp
  sash parse access.log --format nginx --log-format '$remote_addr [$time_local] \"$request\" $status $request_time' -o a.parquet
  sash parse syslog --format syslog --reference-time 2024-06-01T00:00:00Z --strict --errors bad.jsonl -o s.parquet

Lines that do not parse are rows whose `_error` column says why, or, with --errors FILE,
JSON lines {\"file\", \"line\", \"offset\", \"error\", \"text\"} in FILE (and not in the output).
gzip and zstd inputs are decompressed (told by their content, not their name).";

const WINDOW_EXAMPLES: &str = "\
Examples:
  sash window access.log --format combined --every 10m --by status --agg 'count() as requests' --agg 'quantile(size, 0.95) as p95'
  sash window access.log --format combined --every 1h --period 6h --agg 'count_distinct(host) as visitors' -o hourly.parquet
  sash window events.parquet --time ts --session-gap 30m --by user --agg 'count() as clicks' -o sessions.csv
  sash window access.log --format combined --every 1m --lateness 30s --late late.jsonl -o minutes.arrow

Without --lateness every row counts and the output is what `window_agg` gives over all rows,
while memory holds only the windows' states, never the rows (quantiles and distinct counts
hold their values). With --lateness, a window is written as soon as event time passes its end
by that much, and rows later than that go to --late (or are counted in the summary).";

const ROLLING_EXAMPLES: &str = "\
Examples:
  sash rolling metrics.parquet --time ts --period 5m --by host --agg 'mean(cpu) as cpu_5m' -o out.parquet
  sash rolling access.log --format combined --period 1m --by host --agg 'count() as last_minute' -o r.arrow

One output row per input row, in time order (rows of equal time in input order): the input
columns, then the aggregations; the rows `rolling` gives over all rows. Without --lateness
every row is held until the end; with it, only the period before the watermark is.";

/// Where parsed rows and their failures go.
#[derive(Debug, Args, Clone)]
pub struct OutputArgs {
    /// Output file; its extension picks the format (.parquet, .arrow/.feather, .arrows, .csv,
    /// .jsonl/.ndjson) unless --output-format says. Default: stdout
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Output format (default: by the output's extension; to a terminal, a table; to a pipe, csv)
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub output_format: Option<OutputFormat>,
    /// Rows shown when the output is a table on a terminal
    #[arg(long, default_value_t = 40, value_name = "N")]
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Apache Parquet, zstd-compressed
    Parquet,
    /// Arrow IPC file (Feather v2)
    Arrow,
    /// Arrow IPC stream
    Arrows,
    /// CSV with a header row
    Csv,
    /// One JSON object per line
    Jsonl,
    /// A readable table (the first --limit rows)
    Table,
}

/// How log lines are parsed (the kernel's parse spec, docs/parsing.md).
#[derive(Debug, Args, Clone, Default)]
pub struct LogArgs {
    /// Log format: common, combined, nginx, apache, syslog, apache_error, logfmt, json, regex, grok,
    /// cri, docker
    #[arg(long, short = 'f', value_name = "FORMAT")]
    pub format: Option<String>,
    /// IANA time zone of timestamps written without an offset [default: UTC]
    #[arg(long, value_name = "ZONE")]
    pub timezone: Option<String>,
    /// RFC 3339 time giving syslog (RFC 3164) dates their year [default: now]
    #[arg(long, value_name = "TIME")]
    pub reference_time: Option<String>,
    /// Longest line parsed; a longer one is an error row [default: 16 MiB]
    #[arg(long, value_name = "BYTES")]
    pub max_line_bytes: Option<u64>,
    /// nginx and apache: the server's format string (nginx log_format, Apache LogFormat)
    /// [default: the server's combined]
    #[arg(long, value_name = "STRING")]
    pub log_format: Option<String>,
    /// regex: the pattern, with named groups; grok: the grok pattern (%{NAME:field:type} ...)
    #[arg(long, value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// cri and docker: the format of the container's own lines (a format name; a whole spec
    /// through --parse-spec) [default: one message column]
    #[arg(long, value_name = "FORMAT")]
    pub inner: Option<String>,
    /// grok: a file of pattern definitions, NAME PATTERN per line
    #[arg(long, value_name = "FILE")]
    pub patterns_file: Option<PathBuf>,
    /// regex and grok: a field's type, NAME:TYPE (string, int, float, bool, timestamp, ...); repeatable
    #[arg(long = "type", value_name = "NAME:TYPE")]
    pub types: Vec<String>,
    /// logfmt and json: a field and its type, NAME:TYPE; repeatable
    #[arg(long = "field", value_name = "NAME:TYPE")]
    pub fields: Vec<String>,
    /// Join lines into multi-line records: a line matching this regex (or "timestamp": a line
    /// starting with a usual timestamp) begins one; the lines after it that do not are its own
    #[arg(long, value_name = "REGEX")]
    pub record_start: Option<String>,
    /// Lines one record may have; a longer one is an error row [default: 1000]
    #[arg(long, value_name = "LINES")]
    pub max_record_lines: Option<u64>,
    /// Bytes one record may have; a longer one is an error row [default: 1 MiB]
    #[arg(long, value_name = "BYTES")]
    pub max_record_bytes: Option<u64>,
    /// Bytes of log read and parsed at a time: memory holds about this much text, and a
    /// stream's watermark moves between such chunks [default: 16 MiB]
    #[arg(long, value_name = "BYTES")]
    pub chunk_bytes: Option<usize>,
    /// The whole parse spec as JSON (docs/parsing.md), instead of the options above
    #[arg(long, value_name = "JSON", conflicts_with_all = ["format", "timezone", "reference_time", "max_line_bytes", "log_format", "inner", "pattern", "patterns_file", "types", "fields", "record_start", "max_record_lines", "max_record_bytes"])]
    pub parse_spec: Option<String>,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Log files (`-` is stdin); gzip and zstd are decompressed
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub out: OutputArgs,
    /// Write lines that fail to parse to this file, as JSON lines, instead of the output
    #[arg(long, value_name = "FILE")]
    pub errors: Option<PathBuf>,
    /// Exit with status 1 when any line fails to parse (the output is still written)
    #[arg(long)]
    pub strict: bool,
}

/// What `window` and `rolling` read: logs (with --format) or tables.
#[derive(Debug, Args, Clone)]
pub struct TableInputArgs {
    /// Input files (`-` is stdin): logs with --format, or tables (Arrow IPC, Parquet, CSV, JSON lines)
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub log: LogArgs,
    /// Read the inputs as tables of this format instead of logs [default: by extension]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub input_format: Option<InputFormat>,
    #[command(flatten)]
    pub agg: AggArgs,
    /// Emit results once event time has passed them by this much; later rows are late
    #[arg(long, value_name = "DURATION")]
    pub lateness: Option<String>,
    /// Write late rows here (any output format, by extension)
    #[arg(long, value_name = "FILE", requires = "lateness")]
    pub late: Option<PathBuf>,
    /// Write lines that fail to parse to this file as JSON lines (they never enter a window)
    #[arg(long, value_name = "FILE")]
    pub errors: Option<PathBuf>,
    /// Exit with status 1 when lines failed to parse or rows were late (the output is still written)
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub out: OutputArgs,
}

/// What is aggregated, and by what: the options every aggregating command shares.
#[derive(Debug, Args, Clone)]
pub struct AggArgs {
    /// Time column [default: the input's only timestamp column]
    #[arg(long, value_name = "COLUMN")]
    pub time: Option<String>,
    /// Key columns (repeatable, or comma-separated)
    #[arg(long, value_name = "COLUMN", value_delimiter = ',')]
    pub by: Vec<String>,
    /// Aggregations: `count() as n`, `mean(size) as avg`, `quantile(size, 0.95) as p95`, ...
    #[arg(long = "agg", value_name = "EXPR")]
    pub aggs: Vec<String>,
    /// Which end of a window is closed: left ([start, end)) or right ((start, end])
    #[arg(long, value_name = "SIDE")]
    pub closed: Option<String>,
    /// Rows without a time: drop (counted in the summary) or error
    #[arg(long, default_value = "drop", value_name = "WHAT")]
    pub null_time: String,
}

/// The window grid (or sessions) of `window` and `follow`.
#[derive(Debug, Args, Clone)]
pub struct GridArgs {
    /// Tumbling windows of this length (hopping with --period)
    #[arg(long, value_name = "DURATION", required_unless_present_any = ["session_gap", "spec"])]
    pub every: Option<String>,
    /// Hopping windows: each window's length, a new one starting every --every
    #[arg(long, value_name = "DURATION", requires = "every")]
    pub period: Option<String>,
    /// Session windows: a key's session ends after this long without rows
    #[arg(long, value_name = "DURATION", conflicts_with_all = ["every", "period"])]
    pub session_gap: Option<String>,
    /// Shift the window grid from the Unix epoch (e.g. -1h for local midnights)
    #[arg(long, value_name = "DURATION", allow_hyphen_values = true)]
    pub offset: Option<String>,
    /// The whole window spec as JSON (docs/semantics.md), merged under the options above
    #[arg(long, value_name = "JSON")]
    pub spec: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InputFormat {
    /// Log lines, parsed with --format
    Log,
    /// Arrow IPC, file or stream
    Arrow,
    Parquet,
    /// CSV with a header row (types inferred from the first rows)
    Csv,
    /// One JSON object per line (types inferred from the first rows)
    Jsonl,
}

#[derive(Debug, Args)]
pub struct WindowArgs {
    #[command(flatten)]
    pub input: TableInputArgs,
    #[command(flatten)]
    pub grid: GridArgs,
}

#[derive(Debug, Args)]
pub struct RollingArgs {
    #[command(flatten)]
    pub input: TableInputArgs,
    /// How far back each row's window reaches (a duration, or a row count such as 10i)
    #[arg(long, value_name = "DURATION", required_unless_present = "spec")]
    pub period: Option<String>,
    /// The whole rolling spec as JSON (docs/semantics.md), merged under the options above
    #[arg(long, value_name = "JSON")]
    pub spec: Option<String>,
}

const FOLLOW_EXAMPLES: &str = "\
Examples:
  sash follow /var/log/nginx/access.log --format combined --every 1m --by status \\
      --agg 'count() as requests' --lateness 30s --idle-timeout 2m --checkpoint state/ -o minutes/
  sash follow app.log --format logfmt --field ts:timestamp --field level:string --every 10s \\
      --agg 'count() as n' --by level -o - --output-format jsonl

With -o DIR every commit writes part-NNNNNNNNNN.<ext> (and late-, errors- files for late rows and
failed lines) atomically together with the window state and the input position in the
--checkpoint directory: after a crash (even SIGKILL) the command resumes from the last commit, and
no window is lost or written twice. With -o - results go to stdout (at least once after a crash).
SIGINT and SIGTERM commit and exit with status 0. The file may be rotated by rename or by
copy-truncate, or not exist yet.";

#[derive(Debug, Args)]
pub struct FollowArgs {
    /// The log file to follow (it may not exist yet)
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    #[command(flatten)]
    pub log: LogArgs,
    #[command(flatten)]
    pub agg: AggArgs,
    #[command(flatten)]
    pub grid: GridArgs,
    /// How far behind the latest time a row may come and still count [default: 0s]
    #[arg(long, value_name = "DURATION")]
    pub lateness: Option<String>,
    /// When no line arrives for this long, move event time on with the wall clock, so the last
    /// windows are written
    #[arg(long, value_name = "DURATION")]
    pub idle_timeout: Option<String>,
    /// After this long without a line, write every open window and exit (status 0)
    #[arg(long, value_name = "DURATION")]
    pub stop_after_idle: Option<String>,
    /// With --record-start: the last record is complete when no line has come for this long (a
    /// record is otherwise complete when the next one starts)
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub record_timeout: String,
    /// Directory for the state, the input position and the commit sequence
    #[arg(long, value_name = "DIR")]
    pub checkpoint: Option<PathBuf>,
    /// Output directory for the parts, or - for stdout
    #[arg(short, long, value_name = "DIR|-")]
    pub output: PathBuf,
    /// Format of the parts [default: parquet in a directory, jsonl on stdout]
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub output_format: Option<OutputFormat>,
    /// Commit at most this often (results wait in memory until then)
    #[arg(long, default_value = "1s", value_name = "DURATION")]
    pub commit_interval: String,
    /// How often to look for new lines when there are none
    #[arg(long, default_value = "100ms", value_name = "DURATION")]
    pub poll_interval: String,
    /// Start at the end of the file instead of its beginning (when there is no checkpoint)
    #[arg(long)]
    pub from_end: bool,
}

const SERVE_EXAMPLES: &str = "\
Examples:
  sash serve --socket /run/user/$(id -u)/sash.sock
  sash serve --socket /tmp/sash.sock --mode 660 --allow-uid 1001 --max-clients 16

Clients: Python `sash.connect(path)` (pyarrow only), Java `SashClient`, Go `client.Dial`; the
protocol (a JSON frame, then an Arrow IPC stream) is in docs/protocol.md. Only the server's own
uid and --allow-uid may connect. SIGTERM or Ctrl-C: requests in flight finish, the socket file is removed.";

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The socket file to listen on (a stale one is replaced)
    #[arg(long, value_name = "PATH")]
    pub socket: PathBuf,
    /// The socket file's mode, in octal
    #[arg(long, value_name = "MODE", default_value = "600")]
    pub mode: String,
    /// Also serve this uid (repeat for more); the server's own uid is always served
    #[arg(long, value_name = "UID")]
    pub allow_uid: Vec<u32>,
    /// Clients served at once; more are refused with an error
    #[arg(long, value_name = "N", default_value_t = 64)]
    pub max_clients: usize,
    /// The largest IPC message (one batch) a request may send, in bytes
    #[arg(long, value_name = "BYTES", default_value_t = crate::serve::wire::DEFAULT_MAX_MESSAGE_BYTES)]
    pub max_message_bytes: u64,
    /// window_agg holds at most about this many bytes of a request's rows, aggregating larger
    /// inputs part by part into partial states (the same result, memory bounded by the windows)
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    pub window_part_bytes: usize,
    /// Within a request, a read or write that makes no progress for this long ends the connection
    #[arg(long, value_name = "DURATION", default_value = "60s")]
    pub timeout: String,
}
