//! Prototype: exploration of the measurements.

use std::hint::black_box;
use std::time::{Duration, Instant};

use memchr::memmem::Finder;
use msrp_benches::{
    END_LINE_LEAD, HTTP_REQUEST, RFC4975_SEND, SendFrame, Settings, compare, print_info,
    random_body, repeat,
};
use msrp_wire::{Decoder, Item, Limits, StreamDecoder};

const FRAMES: usize = 64;
const PIECE: usize = 16 * 1024;
const BIG: usize = 1 << 20;

fn msrp_small() -> impl FnMut(u64) -> Duration {
    let batch = repeat(RFC4975_SEND, FRAMES);
    let mut decoder = Decoder::new();
    move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            decoder.push(&batch);
            let t = Instant::now();
            while let Some(frame) = decoder.decode().expect("valid") {
                black_box(frame.body());
            }
            total += t.elapsed();
        }
        total
    }
}

fn httparse_small() -> impl FnMut(u64) -> Duration {
    move |iters| {
        let t = Instant::now();
        for _ in 0..iters * FRAMES as u64 {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            let status = req.parse(black_box(HTTP_REQUEST)).expect("valid");
            black_box((status, &req));
        }
        t.elapsed()
    }
}

fn msrp_buffered(frame: &SendFrame) -> impl FnMut(u64) -> Duration + '_ {
    let mut limits = Limits::default();
    limits.max_body = 2 * BIG;
    let mut decoder = Decoder::with_limits(limits);
    move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            decoder.push(&frame.bytes);
            let t = Instant::now();
            let f = decoder.decode().expect("valid").expect("complete");
            black_box(f.body());
            drop(f);
            total += t.elapsed();
        }
        total
    }
}

fn memmem(hay: &[u8]) -> impl FnMut(u64) -> Duration + '_ {
    let finder = Finder::new(END_LINE_LEAD);
    move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            black_box(finder.find(black_box(hay)));
        }
        t.elapsed()
    }
}

fn drain(decoder: &mut StreamDecoder) {
    while let Some(item) = decoder.decode().expect("valid") {
        match item {
            Item::Body(b) => {
                black_box(&b);
            }
            other => {
                black_box(&other);
            }
        }
    }
}

fn msrp_stream_push(frame: &SendFrame) -> impl FnMut(u64) -> Duration + '_ {
    let mut decoder = StreamDecoder::new();
    move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            for piece in frame.bytes.chunks(PIECE) {
                decoder.push(piece);
                drain(&mut decoder);
            }
        }
        t.elapsed()
    }
}

fn msrp_stream_fill(frame: &SendFrame) -> impl FnMut(u64) -> Duration + '_ {
    let mut decoder = StreamDecoder::new();
    move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            for piece in frame.bytes.chunks(PIECE) {
                decoder
                    .fill(PIECE, |buf| {
                        buf[..piece.len()].copy_from_slice(piece);
                        Ok::<_, ()>(piece.len())
                    })
                    .unwrap();
                drain(&mut decoder);
            }
        }
        t.elapsed()
    }
}

fn msrp_stream_nopush(frame: &SendFrame) -> impl FnMut(u64) -> Duration + '_ {
    let mut decoder = StreamDecoder::new();
    move |iters| {
        let mut total = Duration::ZERO;
        for _ in 0..iters {
            for piece in frame.bytes.chunks(PIECE) {
                decoder.push(piece);
                let t = Instant::now();
                drain(&mut decoder);
                total += t.elapsed();
            }
        }
        total
    }
}

fn copy_pieces(frame: &SendFrame) -> impl FnMut(u64) -> Duration + '_ {
    let mut buf: Vec<u8> = Vec::with_capacity(PIECE);
    move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            for piece in frame.bytes.chunks(PIECE) {
                buf.clear();
                buf.extend_from_slice(piece);
                black_box(&buf);
            }
        }
        t.elapsed()
    }
}

fn copy_memmem_pieces(frame: &SendFrame) -> impl FnMut(u64) -> Duration + '_ {
    let mut buf: Vec<u8> = Vec::with_capacity(PIECE);
    let finder = Finder::new(END_LINE_LEAD);
    move |iters| {
        let t = Instant::now();
        for _ in 0..iters {
            for piece in frame.bytes.chunks(PIECE) {
                buf.clear();
                buf.extend_from_slice(piece);
                black_box(finder.find(&buf));
            }
        }
        t.elapsed()
    }
}

fn main() {
    let s = Settings::from_env();
    let c = compare(&mut httparse_small(), &mut msrp_small(), &s);
    println!("small {c:?}  ns/frame msrp {:.1} httparse {:.1}", c.subject_ns / 64.0, c.baseline_ns / 64.0);
    let body = random_body(BIG, 0x5eed);
    let frame = SendFrame::new("f8k2lq9d", &body);
    let hay = frame.body_and_end_line();
    let gbs = |ns: f64, n: usize| n as f64 / ns;
    let c = compare(&mut memmem(hay), &mut msrp_buffered(&frame), &s);
    println!("buffered {c:?} GB/s memmem {:.2} msrp {:.2}", gbs(c.baseline_ns, hay.len()), gbs(c.subject_ns, frame.bytes.len()));
    for (name, mut f) in [
        ("stream_push", Box::new(msrp_stream_push(&frame)) as Box<dyn FnMut(u64) -> Duration>),
        ("stream_fill", Box::new(msrp_stream_fill(&frame))),
        ("stream_nopush", Box::new(msrp_stream_nopush(&frame))),
        ("copy_pieces", Box::new(copy_pieces(&frame))),
        ("copy_memmem_pieces", Box::new(copy_memmem_pieces(&frame))),
    ] {
        let c = compare(&mut memmem(hay), &mut f, &s);
        println!("{name} {c:?} GB/s memmem {:.2} subj {:.2}", gbs(c.baseline_ns, hay.len()), gbs(c.subject_ns, frame.bytes.len()));
    }
    let c = compare(&mut copy_memmem_pieces(&frame), &mut msrp_stream_push(&frame), &s);
    println!("push vs copy_memmem {c:?}");
    print_info("x", 1.0, "y");
}
