//! Shared helpers for the benchmarks of the msrp crates: the inputs, a frame builder, and the
//! interleaved timing loop that turns a subject and its baseline, measured in the same run, into
//! a ratio.
//!
//! This crate measures nothing by itself and holds no criterion code: the bench binaries in
//! `benches/` use criterion for their report and [`compare`] for the ratios they print. Nothing
//! here is a published API; it exists so that every bench times things the same way.
//!
//! A measurement is a closure `FnMut(u64) -> Duration` that does `iters` units of work and
//! returns the time spent in the part that is meant to be measured, so that setup (such as
//! copying input into a decoder's buffer) can be left out. The same closure serves criterion's
//! `Bencher::iter_custom` and [`compare`].
//!
//! ```
//! use std::time::{Duration, Instant};
//!
//! let mut baseline = |iters: u64| {
//!     let t = Instant::now();
//!     for i in 0..iters {
//!         std::hint::black_box(i.wrapping_mul(3));
//!     }
//!     t.elapsed()
//! };
//! let mut subject = baseline;
//! let settings = msrp_benches::Settings {
//!     rounds: 3,
//!     sample_time: Duration::from_micros(200),
//!     ..msrp_benches::Settings::QUICK
//! };
//! let c = msrp_benches::compare(&mut baseline, &mut subject, &settings);
//! assert!(c.ratio > 0.0);
//! ```

#![forbid(unsafe_code)]

pub mod kamailio;
pub mod loopback;

use std::ops::Range;
use std::time::Duration;

/// The SEND request of RFC 4975 §4 (255 bytes: start line, five headers, a 23-byte body and
/// the end-line), a copy of `vectors/rfc4975-4-send.msrp` kept here so that the benches are
/// self-contained.
pub const RFC4975_SEND: &[u8] = include_bytes!("../data/rfc4975-4-send.msrp");

/// A realistic HTTP/1.1 request of exactly [`HTTP_REQUEST_LEN`] bytes with
/// [`HTTP_REQUEST_HEADERS`] headers and no body: the baseline for small-frame parsing.
pub const HTTP_REQUEST: &[u8] = b"GET /api/v1/rooms/42/messages?since=171234567 HTTP/1.1\r\n\
Host: chat.example.com\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64)\r\n\
Accept: application/json\r\n\
Accept-Language: en\r\n\
Accept-Encoding: gzip, br\r\n\
Referer: https://chat.example.com/\r\n\
Connection: keep-alive\r\n\
Cookie: sid=31d4d9\r\n\
\r\n";

/// Length of [`HTTP_REQUEST`].
pub const HTTP_REQUEST_LEN: usize = 281;

/// Number of headers in [`HTTP_REQUEST`].
pub const HTTP_REQUEST_HEADERS: usize = 8;

/// The constant lead of every MSRP end-line after a body: CRLF and seven hyphens.
pub const END_LINE_LEAD: &[u8] = b"\r\n-------";

/// `n` back-to-back copies of `frame`.
pub fn repeat(frame: &[u8], n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(frame.len() * n);
    for _ in 0..n {
        out.extend_from_slice(frame);
    }
    out
}

/// `len` pseudo-random bytes (xorshift64* from `seed`), like a compressed file or an image sent
/// over MSRP: every byte value occurs, CRLF occurs about 16 times per MiB, and the end-line lead
/// [`END_LINE_LEAD`] never does (a byte that would complete it is changed).
pub fn random_body(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let word = state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes();
        let take = word.len().min(len - out.len());
        out.extend_from_slice(&word[..take]);
    }
    // RFC 4975 §7.1: the sender makes sure the end-line is not in the body; a random body of a
    // MiB practically never holds CRLF and seven hyphens, but make sure.
    while let Some(i) = memchr::memmem::find(&out, END_LINE_LEAD) {
        out[i + END_LINE_LEAD.len() - 1] = b'_';
    }
    out
}

/// A whole SEND frame built around a given body, and where its parts are.
#[derive(Clone, Debug)]
pub struct SendFrame {
    /// The frame's bytes: start line, headers, blank line, body, end-line.
    pub bytes: Vec<u8>,
    /// Where the body is in [`bytes`](Self::bytes).
    pub body: Range<usize>,
}

impl SendFrame {
    /// A SEND frame with transaction id `tid` carrying all of `body` as one chunk with the `$`
    /// flag, with the headers a file transfer has (To-Path, From-Path, Message-ID, Byte-Range,
    /// Content-Type).
    pub fn new(tid: &str, body: &[u8]) -> Self {
        let head = format!(
            "MSRP {tid} SEND\r\n\
             To-Path: msrp://biloxi.example.com:12763/kjhd37s2s20w2a;tcp\r\n\
             From-Path: msrp://atlanta.example.com:7654/jshA7weztas;tcp\r\n\
             Message-ID: 4a7b1c9e2f\r\n\
             Byte-Range: 1-{len}/{len}\r\n\
             Content-Type: application/octet-stream\r\n\
             \r\n",
            len = body.len()
        );
        let mut bytes = Vec::with_capacity(head.len() + body.len() + tid.len() + 12);
        bytes.extend_from_slice(head.as_bytes());
        let start = bytes.len();
        bytes.extend_from_slice(body);
        let end = bytes.len();
        bytes.extend_from_slice(END_LINE_LEAD);
        bytes.extend_from_slice(tid.as_bytes());
        bytes.extend_from_slice(b"$\r\n");
        Self {
            bytes,
            body: start..end,
        }
    }

    /// The bytes from the body's start to the end of the frame: the body and its end-line, what
    /// an end-line search has to look through.
    pub fn body_and_end_line(&self) -> &[u8] {
        &self.bytes[self.body.start..]
    }
}

/// A naive parse of one MSRP frame with a body at the start of `buf`, as a reference point for
/// what a decoder costs: the start line's LF with `memchr`, the headers with
/// `httparse::parse_headers`, the end-line with the prebuilt `finder` for [`END_LINE_LEAD`] and a
/// compare of the id, flag and CRLF after it. Returns the frame's length and where its body is,
/// or `None` for anything else. It checks far less than the grammar asks (no character classes
/// of the start line, no header limits, httparse's header rules instead of RFC 4975's), keeps no
/// state across calls, and copies nothing.
pub fn naive_parse(
    buf: &[u8],
    finder: &memchr::memmem::Finder<'_>,
) -> Option<(usize, Range<usize>)> {
    let lf = memchr::memchr(b'\n', buf)?;
    let start = buf.get(..lf.checked_sub(1)?)?;
    let rest = start.strip_prefix(b"MSRP ")?;
    let tid = &rest[..memchr::memchr(b' ', rest)?];
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let body_start = match httparse::parse_headers(&buf[lf + 1..], &mut headers).ok()? {
        httparse::Status::Complete((n, _)) => lf + 1 + n,
        httparse::Status::Partial => return None,
    };
    // The CRLF of the blank line may be the end-line's own, for an empty body.
    let mut from = body_start - 2;
    loop {
        let at = from + finder.find(&buf[from..])?;
        let after = &buf[at + END_LINE_LEAD.len()..];
        if after.starts_with(tid) {
            if let [b'$' | b'+' | b'#', b'\r', b'\n', ..] = after[tid.len()..] {
                let end = at + END_LINE_LEAD.len() + tid.len() + 3;
                return Some((end, body_start..at.max(body_start)));
            }
        }
        from = at + 1;
    }
}

/// A seeded random source for session configurations (xorshift64), so that the ids of a run
/// are reproducible; benches measure the engine, not the operating system's generator.
pub fn seeded_random(seed: u64) -> impl FnMut(&mut [u8]) + Send + 'static {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move |buf: &mut [u8]| {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
    }
}

/// Whether `MSRP_BENCH_QUICK` is set to something other than empty or `0` (as
/// `cargo xtask bench --quick` does).
pub fn is_quick() -> bool {
    std::env::var_os("MSRP_BENCH_QUICK").is_some_and(|v| !v.is_empty() && v != "0")
}

/// Whether the figure `name` is to be measured: `MSRP_BENCH_ONLY`, when set and not empty, is
/// a comma-separated list of substrings, one of which the name must contain. For the plain
/// timing loops (criterion's own filter selects criterion benchmarks only); handy to profile
/// one figure.
pub fn is_selected(name: &str) -> bool {
    match std::env::var("MSRP_BENCH_ONLY") {
        Ok(only) if !only.is_empty() => only.split(',').any(|s| name.contains(s.trim())),
        _ => true,
    }
}

/// Whether the binary was started to measure (`cargo bench` passes `--bench`), rather than to
/// check that the benches run (`cargo test --benches` passes nothing), or to list them.
pub fn is_bench_mode() -> bool {
    let mut bench = false;
    for arg in std::env::args().skip(1) {
        match arg.as_str() {
            "--bench" => bench = true,
            "--list" | "--test" => return false,
            _ => {}
        }
    }
    bench
}

/// How long to measure: criterion's times (which criterion's own command-line options still
/// override) and the shape of [`compare`]'s interleaved loop.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Criterion's warm-up time per benchmark.
    pub warm_up_time: Duration,
    /// Criterion's measurement time per benchmark.
    pub measurement_time: Duration,
    /// Criterion's number of samples per benchmark.
    pub sample_size: usize,
    /// Rounds of [`compare`]; each round measures the baseline once and the subject once.
    pub rounds: usize,
    /// Measured time of one sample of [`compare`]; the iteration count is calibrated to it.
    pub sample_time: Duration,
}

impl Settings {
    /// The full run: criterion's defaults, and 11 rounds of 100 ms samples per ratio.
    pub const FULL: Self = Self {
        warm_up_time: Duration::from_secs(3),
        measurement_time: Duration::from_secs(5),
        sample_size: 100,
        rounds: 11,
        sample_time: Duration::from_millis(100),
    };

    /// The quick run (`MSRP_BENCH_QUICK=1`): short criterion times, and 7 rounds of 25 ms
    /// samples per ratio.
    pub const QUICK: Self = Self {
        warm_up_time: Duration::from_millis(500),
        measurement_time: Duration::from_secs(1),
        sample_size: 10,
        rounds: 7,
        sample_time: Duration::from_millis(25),
    };

    /// [`QUICK`](Self::QUICK) when [`is_quick`], else [`FULL`](Self::FULL).
    pub fn from_env() -> Self {
        if is_quick() { Self::QUICK } else { Self::FULL }
    }
}

/// The result of [`compare`]. Times are per unit of work, i.e. per `iters` step of the
/// measurement closures.
#[derive(Clone, Debug)]
pub struct Comparison {
    /// Median time of one baseline unit over the rounds, in nanoseconds.
    pub baseline_ns: f64,
    /// Median time of one subject unit over the rounds, in nanoseconds.
    pub subject_ns: f64,
    /// Median over the rounds of `baseline time / subject time` taken within each round: how
    /// many times faster the subject is (its rate divided by the baseline's rate).
    pub ratio: f64,
    /// Smallest per-round ratio.
    pub ratio_min: f64,
    /// Largest per-round ratio.
    pub ratio_max: f64,
}

/// Measures `subject` against `baseline` in interleaved rounds and returns the median of the
/// per-round ratios.
///
/// Both closures take an iteration count and return the time their measured part took. Each is
/// first calibrated so that one sample lasts about `settings.sample_time`, and run once to warm
/// up. Then each round takes one sample of each, alternating which goes first, so that a slow
/// spell of the machine (another process, frequency changes, a noisy neighbour) hits both sides
/// of a round alike and cancels out of that round's ratio. The median of the rounds' ratios then
/// ignores the odd round that was disturbed anyway.
pub fn compare(
    baseline: &mut dyn FnMut(u64) -> Duration,
    subject: &mut dyn FnMut(u64) -> Duration,
    settings: &Settings,
) -> Comparison {
    let b_iters = calibrate(baseline, settings.sample_time);
    let s_iters = calibrate(subject, settings.sample_time);
    let per_unit = |d: Duration, iters: u64| d.as_secs_f64() * 1e9 / iters as f64;
    let rounds = settings.rounds.max(1);
    let (mut b, mut s, mut r) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (tb, ts) = if round % 2 == 0 {
            let tb = baseline(b_iters);
            (tb, subject(s_iters))
        } else {
            let ts = subject(s_iters);
            (baseline(b_iters), ts)
        };
        let (nb, ns) = (per_unit(tb, b_iters), per_unit(ts, s_iters));
        b.push(nb);
        s.push(ns);
        r.push(nb / ns);
    }
    Comparison {
        baseline_ns: median(&mut b),
        subject_ns: median(&mut s),
        ratio: median(&mut r),
        ratio_min: r.iter().copied().fold(f64::INFINITY, f64::min),
        ratio_max: r.iter().copied().fold(0.0, f64::max),
    }
}

/// The result of [`measure`]: one closure timed alone, for a goal that is a fixed rate rather
/// than a baseline. Times are per unit of work.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// Median time of one unit over the rounds, in nanoseconds.
    pub ns: f64,
    /// Fastest round's time of one unit.
    pub ns_min: f64,
    /// Slowest round's time of one unit.
    pub ns_max: f64,
}

/// Measures `f` alone the way [`compare`] measures each side: calibrated to
/// `settings.sample_time` per sample, then `settings.rounds` samples, and the median of them.
/// For goals stated as an absolute rate, where the fixed goal plays the baseline's part.
pub fn measure(f: &mut dyn FnMut(u64) -> Duration, settings: &Settings) -> Measurement {
    let iters = calibrate(f, settings.sample_time);
    let mut ns: Vec<f64> = (0..settings.rounds.max(1))
        .map(|_| f(iters).as_secs_f64() * 1e9 / iters as f64)
        .collect();
    Measurement {
        ns: median(&mut ns),
        ns_min: ns.iter().copied().fold(f64::INFINITY, f64::min),
        ns_max: ns.iter().copied().fold(0.0, f64::max),
    }
}

/// The iteration count for which `f` measures about `target`; runs `f` a few times, which also
/// warms it up.
pub fn calibrate(f: &mut dyn FnMut(u64) -> Duration, target: Duration) -> u64 {
    let mut iters = 1u64;
    loop {
        let t = f(iters);
        if t >= target / 4 || iters >= 1 << 40 {
            let per = t.as_secs_f64() / iters as f64;
            let n = (target.as_secs_f64() / per.max(1e-12)).ceil() as u64;
            let n = n.max(1);
            // One more run at the final count, as warm-up.
            f(n);
            return n;
        }
        iters = if t.is_zero() {
            iters * 16
        } else {
            // Aim a little past a quarter of the target, at most 16 times more per step.
            let per = t.as_secs_f64() / iters as f64;
            let want = (target.as_secs_f64() / 3.0 / per).ceil() as u64;
            want.clamp(iters + 1, iters * 16)
        };
    }
}

/// The median of `values` (the mean of the middle two for an even count); NaN when empty.
pub fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// Prints the line `ratio NAME VALUE goal GOAL` that `cargo xtask bench` collects, with two
/// decimals.
pub fn print_ratio(name: &str, value: f64, goal: f64) {
    println!("ratio {name} {value:.2} goal {goal:.2}");
}

/// Prints a comparison's spread as `info NAME.ratio_min` and `info NAME.ratio_max` lines.
pub fn print_spread(name: &str, c: &Comparison) {
    print_info(&format!("{name}.ratio_min"), c.ratio_min, "x");
    print_info(&format!("{name}.ratio_max"), c.ratio_max, "x");
}

/// Prints an absolute figure as `info NAME VALUE UNIT`, with up to three decimals.
pub fn print_info(name: &str, value: f64, unit: &str) {
    println!("info {name} {value:.3} {unit}");
}

/// Runs one figure. A figure whose run fails (a transfer that stalls, a deadline that passes)
/// prints its ratio as 0.00 and a line `error NAME: why`, and the other figures still run;
/// when only checking (`cargo test --benches`) the failure fails the check.
pub fn guarded(name: &str, goal: Option<f64>, check: bool, figure: impl FnOnce()) {
    let Err(panic) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(figure)) else {
        return;
    };
    if check {
        std::panic::resume_unwind(panic);
    }
    let why = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("a panic");
    if let Some(goal) = goal {
        print_ratio(name, 0.0, goal);
    }
    println!("error {name}: {why}");
}

/// Prints the ratio of a comparison, its spread, and both sides' rates.
pub fn report(name: &str, goal: f64, c: &Comparison, unit: (f64, &str)) {
    print_ratio(name, c.ratio, goal);
    print_spread(name, c);
    let (per_unit, label) = unit;
    print_info(&format!("{name}.msrp"), per_unit / c.subject_ns, label);
    print_info(&format!("{name}.baseline"), per_unit / c.baseline_ns, label);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_have_the_promised_shape() {
        assert_eq!(RFC4975_SEND.len(), 255);
        assert_eq!(HTTP_REQUEST.len(), HTTP_REQUEST_LEN);
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut req = httparse::Request::new(&mut headers);
        assert_eq!(
            req.parse(HTTP_REQUEST).unwrap(),
            httparse::Status::Complete(HTTP_REQUEST_LEN)
        );
        assert_eq!(req.headers.len(), HTTP_REQUEST_HEADERS);
    }

    #[test]
    fn random_body_has_no_end_line_lead() {
        let body = random_body(1 << 20, 7);
        assert_eq!(body.len(), 1 << 20);
        assert!(memchr::memmem::find(&body, END_LINE_LEAD).is_none());
        assert!(memchr::memmem::find(&body, b"\r\n").is_some());
    }

    #[test]
    fn send_frame_decodes_whole() {
        let body = random_body(4000, 1);
        let frame = SendFrame::new("f8k2lq9d", &body);
        let mut decoder = msrp_wire::Decoder::new();
        decoder.push(&frame.bytes);
        let decoded = decoder.decode().unwrap().unwrap();
        assert_eq!(decoded.body(), Some(&body[..]));
        assert_eq!(&frame.bytes[frame.body.clone()], &body[..]);
    }

    #[test]
    fn naive_parse_agrees_with_the_decoder() {
        let finder = memchr::memmem::Finder::new(END_LINE_LEAD);
        let stream = repeat(RFC4975_SEND, 3);
        let (len, body) = naive_parse(&stream, &finder).unwrap();
        assert_eq!(len, RFC4975_SEND.len());
        assert_eq!(&stream[body], b"Hey Bob, are you there?");
        let big = SendFrame::new("f8k2lq9d", &random_body(5000, 3));
        let (len, body) = naive_parse(&big.bytes, &finder).unwrap();
        assert_eq!((len, body), (big.bytes.len(), big.body.clone()));
        assert_eq!(naive_parse(&RFC4975_SEND[..200], &finder), None);
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), 2.5);
        assert!(median(&mut []).is_nan());
    }
}
