//! Benchmarks of the `msrp-wire` decoders, each against a baseline measured in the same run.
//!
//! Criterion measures every subject and baseline for the report; then each ratio is measured
//! again by [`msrp_benches::compare`], which alternates baseline and subject round by round and
//! takes the median of the per-round ratios, and is printed as `ratio NAME VALUE goal GOAL` for
//! `cargo xtask bench`. Absolute figures follow as `info NAME VALUE UNIT` lines (GB/s is 10^9
//! bytes per second). `MSRP_BENCH_QUICK=1` shortens everything; criterion's own options
//! (`--measurement-time` …) still apply to the criterion part.
//!
//! What is measured, exactly:
//!
//! - `wire_small_frame_vs_httparse` (goal 1.3): frames per second of [`Decoder`] on the RFC 4975
//!   §4 SEND (255 bytes, five headers, 23-byte body) over httparse `Request::parse` requests per
//!   second on a 281-byte HTTP/1.1 request with eight headers. One unit of work is 64 frames:
//!   64 back-to-back copies of the SEND (16 KiB) are pushed into a long-lived decoder outside
//!   the timed region (the copy is not measured); the timed region decodes all 64 frames, hands
//!   each body to `black_box`, drops each frame (a reference count on the shared buffer), and
//!   includes the final `decode` call that returns `None`. The baseline unit is 64 calls of
//!   `Request::parse` on the same `&[u8]` (through `black_box`), each with a fresh array of 16
//!   headers.
//! - `wire_1mib_buffered_vs_memmem` (goal 0.8): bytes per second of [`Decoder`] decoding one
//!   SEND whose 1 MiB body is pseudo-random bytes (no end-line in it; `Limits::max_body` is
//!   2 MiB), over bytes per second of a prebuilt `memchr::memmem::Finder` for `CRLF "-------"`
//!   searching the body and end-line. The frame is pushed into the decoder outside the timed
//!   region; the timed region is the one `decode` call that parses the head, finds the end-line
//!   and splits the frame off, plus dropping the frame. The decoder's bytes are the whole frame
//!   (head, body, end-line), memmem's the body and end-line: they differ by the 230-byte head.
//! - `wire_1mib_streaming_16k_vs_memmem` (goal 0.7): the same frame pushed into a
//!   [`StreamDecoder`] in 16 KiB pieces, decoding after each push until it returns `None` (one
//!   head, 65 body pieces, the end), over the same memmem baseline. Each `push` copies its piece
//!   into the decoder's buffer; that copy is **not** in the ratio: only the `decode` calls after
//!   each push are timed, one timed interval per piece, and what an empty interval measures
//!   (about 25 ns, measured at start-up) is taken off each. The copy is left out because it
//!   stands for the socket read, which any reader pays, memmem-based or not (with
//!   `Decoder::fill` the kernel's copy lands in the decoder's buffer and there is no other), and
//!   because copying the bytes alone already takes longer than memmem's search of them (about
//!   30 µs against 22 µs per MiB here): with the copy counted, even a decoder that cost nothing
//!   would reach only about 0.43 of memmem. (The decoder then searches bytes the copy has just
//!   brought into L1, where memmem reads its 1 MiB from L2; profiling showed memmem's search
//!   inside the decoder running at the same speed as the baseline's, so this favours neither.)
//!   The run with the copy is measured too and printed as
//!   `info` lines: against memmem, and against a baseline that pays the same copy (each piece
//!   copied into a reused buffer, then searched by memmem).
//!
//! For scale, `info` lines also give [`naive_parse`] (memchr for the start line,
//! `httparse::parse_headers`, memmem for the end-line, from a `&[u8]`, no state, no checks of
//! the RFC 4975 grammar) on the same 64 SENDs: what a minimal frame split costs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use memchr::memmem::Finder;
use msrp_benches::{
    Comparison, END_LINE_LEAD, HTTP_REQUEST, HTTP_REQUEST_HEADERS, HTTP_REQUEST_LEN, RFC4975_SEND,
    SendFrame, Settings, compare, is_bench_mode, naive_parse, print_info, print_ratio, random_body,
    repeat,
};
use msrp_wire::{Decoder, Flag, Item, Limits, StreamDecoder};

/// Frames per unit of work of the small-frame benchmark.
const FRAMES: usize = 64;
/// Body size of the large frame.
const BIG_BODY: usize = 1 << 20;
/// Piece size of the streaming benchmark.
const PIECE: usize = 16 * 1024;
/// Transaction id of the large frame.
const BIG_TID: &str = "f8k2lq9d";

/// A measurement: does `iters` units of work and returns the time of the measured part.
type Measure<'a> = Box<dyn FnMut(u64) -> Duration + 'a>;

/// [`Decoder`] on [`FRAMES`] copies of the RFC 4975 §4 SEND per unit; the push is not timed.
fn msrp_small_frames() -> Measure<'static> {
    let batch = repeat(RFC4975_SEND, FRAMES);
    let mut decoder = Decoder::new();
    Box::new(move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            decoder.push(&batch);
            let t = Instant::now();
            while let Some(frame) = decoder.decode().expect("valid frame") {
                black_box(frame.body());
            }
            total += t.elapsed();
        }
        total
    })
}

/// [`naive_parse`] of [`FRAMES`] copies of the RFC 4975 §4 SEND per unit, from a `&[u8]`.
fn naive_small_frames() -> Measure<'static> {
    let batch = repeat(RFC4975_SEND, FRAMES);
    let finder = Finder::new(END_LINE_LEAD);
    Box::new(move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            let mut rest = black_box(&batch[..]);
            while let Some((len, body)) = naive_parse(rest, &finder) {
                black_box(&rest[body]);
                rest = &rest[len..];
            }
        }
        t.elapsed()
    })
}

/// httparse `Request::parse` of [`HTTP_REQUEST`], [`FRAMES`] times per unit.
fn httparse_requests() -> Measure<'static> {
    Box::new(|iters| {
        let t = Instant::now();
        for _ in 0..iters * FRAMES as u64 {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            let status = req.parse(black_box(HTTP_REQUEST)).expect("valid request");
            black_box((status, &req));
        }
        t.elapsed()
    })
}

/// Limits that let [`Decoder`] buffer the large frame whole.
fn big_limits() -> Limits {
    let mut limits = Limits::default();
    limits.max_body = 2 * BIG_BODY;
    limits
}

/// [`Decoder`] on the large frame, one frame per unit; the push is not timed.
fn msrp_buffered(frame: &SendFrame) -> Measure<'_> {
    let mut decoder = Decoder::with_limits(big_limits());
    Box::new(move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            decoder.push(&frame.bytes);
            let t = Instant::now();
            let decoded = decoder.decode().expect("valid frame").expect("complete");
            black_box(decoded.body());
            drop(decoded);
            total += t.elapsed();
        }
        total
    })
}

/// A prebuilt memmem finder for the end-line lead over `haystack`, one search per unit.
fn memmem(haystack: &[u8]) -> Measure<'_> {
    let finder = Finder::new(END_LINE_LEAD);
    Box::new(move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(finder.find(black_box(haystack)));
        }
        t.elapsed()
    })
}

/// Decodes until the decoder needs more bytes, handing every item to `black_box`.
fn drain(decoder: &mut StreamDecoder) {
    while let Some(item) = decoder.decode().expect("valid frame") {
        black_box(&item);
    }
}

/// [`StreamDecoder`] on the large frame in [`PIECE`] pieces, one frame per unit. With
/// `time_push`, the pushes (copies into the decoder) are timed too; without, only the `decode`
/// calls after each push are, and `clock_ns` (what an empty timed interval measures, see
/// [`empty_interval_ns`]) is taken off each piece's time.
fn msrp_streaming(frame: &SendFrame, time_push: bool, clock_ns: f64) -> Measure<'_> {
    let mut decoder = StreamDecoder::new();
    Box::new(move |iters| {
        if time_push {
            let t = Instant::now();
            for _ in 0..iters {
                for piece in frame.bytes.chunks(PIECE) {
                    decoder.push(piece);
                    drain(&mut decoder);
                }
            }
            return t.elapsed();
        }
        let mut total = Duration::ZERO;
        let mut intervals = 0u64;
        for _ in 0..iters {
            for piece in frame.bytes.chunks(PIECE) {
                decoder.push(piece);
                let t = Instant::now();
                drain(&mut decoder);
                total += t.elapsed();
                intervals += 1;
            }
        }
        total.saturating_sub(Duration::from_nanos((clock_ns * intervals as f64) as u64))
    })
}

/// What a memmem-based reader does with the same pieces: copies each into a reused buffer and
/// searches it (ignoring a lead split across pieces, which would cost next to nothing).
fn copy_then_memmem(frame: &SendFrame) -> Measure<'_> {
    let finder = Finder::new(END_LINE_LEAD);
    let mut buf = Vec::with_capacity(PIECE);
    Box::new(move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            for piece in frame.bytes.chunks(PIECE) {
                buf.clear();
                buf.extend_from_slice(piece);
                black_box(finder.find(&buf));
            }
        }
        t.elapsed()
    })
}

/// Checks once, before anything is timed, that every subject decodes what it should.
fn check_inputs(frame: &SendFrame) {
    assert_eq!(RFC4975_SEND.len(), 255);
    assert_eq!(HTTP_REQUEST.len(), HTTP_REQUEST_LEN);
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut req = httparse::Request::new(&mut headers);
    assert!(
        req.parse(HTTP_REQUEST)
            .expect("valid request")
            .is_complete()
    );
    assert_eq!(req.headers.len(), HTTP_REQUEST_HEADERS);

    let mut decoder = Decoder::new();
    decoder.push(&repeat(RFC4975_SEND, FRAMES));
    let mut n = 0;
    while let Some(f) = decoder.decode().expect("valid frame") {
        assert_eq!(f.header_count(), 5);
        assert_eq!(f.body(), Some(&b"Hey Bob, are you there?"[..]));
        n += 1;
    }
    assert_eq!(n, FRAMES);
    let (batch, finder) = (repeat(RFC4975_SEND, FRAMES), Finder::new(END_LINE_LEAD));
    let mut rest = &batch[..];
    for _ in 0..FRAMES {
        let (len, body) = naive_parse(rest, &finder).expect("naive parse");
        assert_eq!(&rest[body], b"Hey Bob, are you there?");
        rest = &rest[len..];
    }
    assert!(rest.is_empty());

    let body = &frame.bytes[frame.body.clone()];
    let mut decoder = Decoder::with_limits(big_limits());
    decoder.push(&frame.bytes);
    let f = decoder.decode().expect("valid").expect("complete");
    assert_eq!(f.body(), Some(body));
    assert_eq!(
        Finder::new(END_LINE_LEAD).find(frame.body_and_end_line()),
        Some(BIG_BODY)
    );

    let mut decoder = StreamDecoder::new();
    let (mut got, mut heads, mut pieces, mut end) = (Vec::new(), 0, 0, None);
    for piece in frame.bytes.chunks(PIECE) {
        decoder.push(piece);
        while let Some(item) = decoder.decode().expect("valid frame") {
            match item {
                Item::Head(_) => heads += 1,
                Item::Body(b) => {
                    pieces += 1;
                    got.extend_from_slice(&b);
                }
                Item::End(flag) => end = Some(flag),
                Item::Frame(_) => panic!("the large frame must be streamed"),
            }
        }
    }
    assert_eq!((heads, end), (1, Some(Flag::End)));
    assert!(pieces > 1, "the body must come in pieces");
    assert!(got == body, "the streamed body must be the body");
}

/// What an empty timed interval `let t = Instant::now(); total += t.elapsed();` adds to a total,
/// in nanoseconds: the median of 7 runs of 200 000 intervals. The streaming subject times one
/// interval per piece and takes this off each.
fn empty_interval_ns() -> f64 {
    let n = 200_000u32;
    let mut runs: Vec<f64> = (0..7)
        .map(|_| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                let t = Instant::now();
                total += black_box(t).elapsed();
            }
            total.as_secs_f64() * 1e9 / f64::from(n)
        })
        .collect();
    msrp_benches::median(&mut runs)
}

/// Prints a comparison's spread as `info` lines.
fn print_spread(name: &str, c: &Comparison) {
    print_info(&format!("{name}.ratio_min"), c.ratio_min, "x");
    print_info(&format!("{name}.ratio_max"), c.ratio_max, "x");
}

fn main() {
    let settings = Settings::from_env();
    let mut criterion = Criterion::default()
        .warm_up_time(settings.warm_up_time)
        .measurement_time(settings.measurement_time)
        .sample_size(settings.sample_size)
        .configure_from_args();

    let clock_ns = empty_interval_ns();
    let body = random_body(BIG_BODY, 0x5eed);
    let frame = SendFrame::new(BIG_TID, &body);
    let haystack = frame.body_and_end_line();
    check_inputs(&frame);

    // The report: criterion measures every subject and baseline.
    let mut group = criterion.benchmark_group("wire_small_frame");
    group.throughput(Throughput::Elements(FRAMES as u64));
    let mut m = msrp_small_frames();
    group.bench_function(BenchmarkId::new("msrp_decoder", "rfc4975_send_255b"), |b| {
        b.iter_custom(&mut m)
    });
    let mut m = httparse_requests();
    group.bench_function(BenchmarkId::new("httparse", "request_281b"), |b| {
        b.iter_custom(&mut m)
    });
    let mut m = naive_small_frames();
    group.bench_function(BenchmarkId::new("naive_parse", "rfc4975_send_255b"), |b| {
        b.iter_custom(&mut m)
    });
    group.finish();

    let mut group = criterion.benchmark_group("wire_1mib_buffered");
    group.throughput(Throughput::Bytes(frame.bytes.len() as u64));
    let mut m = msrp_buffered(&frame);
    group.bench_function("msrp_decoder", |b| b.iter_custom(&mut m));
    group.throughput(Throughput::Bytes(haystack.len() as u64));
    let mut m = memmem(haystack);
    group.bench_function("memmem", |b| b.iter_custom(&mut m));
    group.finish();

    let mut group = criterion.benchmark_group("wire_1mib_streaming_16k");
    group.throughput(Throughput::Bytes(frame.bytes.len() as u64));
    let mut m = msrp_streaming(&frame, false, clock_ns);
    group.bench_function("msrp_stream_decoder", |b| b.iter_custom(&mut m));
    let mut m = msrp_streaming(&frame, true, clock_ns);
    group.bench_function("msrp_stream_decoder_with_push", |b| b.iter_custom(&mut m));
    let mut m = copy_then_memmem(&frame);
    group.bench_function("copy_then_memmem", |b| b.iter_custom(&mut m));
    group.throughput(Throughput::Bytes(haystack.len() as u64));
    let mut m = memmem(haystack);
    group.bench_function("memmem", |b| b.iter_custom(&mut m));
    group.finish();

    criterion.final_summary();
    if !is_bench_mode() {
        // `cargo test --benches` runs each benchmark once as a check; there is nothing to
        // compare.
        return;
    }

    // The ratios: baseline and subject alternate round by round (see `compare`).
    println!();
    let gbs = |bytes: usize, ns: f64| bytes as f64 / ns;

    let c = compare(
        &mut httparse_requests(),
        &mut msrp_small_frames(),
        &settings,
    );
    print_ratio("wire_small_frame_vs_httparse", c.ratio, 1.3);
    print_spread("wire_small_frame_vs_httparse", &c);
    let (msrp_ns, http_ns) = (c.subject_ns / FRAMES as f64, c.baseline_ns / FRAMES as f64);
    print_info("wire_small_frame.msrp_decoder_time", msrp_ns, "ns/frame");
    print_info(
        "wire_small_frame.msrp_decoder_rate",
        1e3 / msrp_ns,
        "Mframes/s",
    );
    print_info("wire_small_frame.httparse_time", http_ns, "ns/request");
    print_info(
        "wire_small_frame.httparse_rate",
        1e3 / http_ns,
        "Mrequests/s",
    );
    let c = compare(
        &mut httparse_requests(),
        &mut naive_small_frames(),
        &settings,
    );
    print_info("wire_small_frame_naive_parse_vs_httparse", c.ratio, "x");
    print_info(
        "wire_small_frame.naive_parse_time",
        c.subject_ns / FRAMES as f64,
        "ns/frame",
    );

    let c = compare(&mut memmem(haystack), &mut msrp_buffered(&frame), &settings);
    // Throughputs over each side's own bytes; the per-round ratio is of times, so scale it.
    let scale = frame.bytes.len() as f64 / haystack.len() as f64;
    print_ratio("wire_1mib_buffered_vs_memmem", c.ratio * scale, 0.8);
    print_spread("wire_1mib_buffered_vs_memmem", &c);
    print_info(
        "wire_1mib_buffered.msrp_decoder",
        gbs(frame.bytes.len(), c.subject_ns),
        "GB/s",
    );
    print_info(
        "wire_1mib_buffered.memmem",
        gbs(haystack.len(), c.baseline_ns),
        "GB/s",
    );

    let c = compare(
        &mut memmem(haystack),
        &mut msrp_streaming(&frame, false, clock_ns),
        &settings,
    );
    print_ratio("wire_1mib_streaming_16k_vs_memmem", c.ratio * scale, 0.7);
    print_spread("wire_1mib_streaming_16k_vs_memmem", &c);
    print_info(
        "wire_1mib_streaming_16k.msrp_stream_decoder",
        gbs(frame.bytes.len(), c.subject_ns),
        "GB/s",
    );
    print_info(
        "wire_1mib_streaming_16k.memmem",
        gbs(haystack.len(), c.baseline_ns),
        "GB/s",
    );
    let pieces = frame.bytes.len().div_ceil(PIECE);
    print_info("wire_1mib_streaming_16k.clock_per_piece", clock_ns, "ns");
    print_info(
        "wire_1mib_streaming_16k.clock_share",
        clock_ns * pieces as f64 / (c.subject_ns + clock_ns * pieces as f64) * 100.0,
        "percent",
    );

    let c = compare(
        &mut memmem(haystack),
        &mut msrp_streaming(&frame, true, clock_ns),
        &settings,
    );
    print_info(
        "wire_1mib_streaming_16k_with_push_vs_memmem",
        c.ratio * scale,
        "x",
    );
    print_info(
        "wire_1mib_streaming_16k.msrp_stream_decoder_with_push",
        gbs(frame.bytes.len(), c.subject_ns),
        "GB/s",
    );
    let c = compare(
        &mut copy_then_memmem(&frame),
        &mut msrp_streaming(&frame, true, clock_ns),
        &settings,
    );
    print_info(
        "wire_1mib_streaming_16k_with_push_vs_copy_then_memmem",
        c.ratio,
        "x",
    );
    print_info(
        "wire_1mib_streaming_16k.copy_then_memmem",
        gbs(frame.bytes.len(), c.baseline_ns),
        "GB/s",
    );
}
