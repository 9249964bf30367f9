//! Temporary driver for profiling.
use msrp_benches::{RFC4975_SEND, repeat};
use msrp_wire::Decoder;
use std::hint::black_box;
fn main() {
    let n: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse().unwrap())
        .unwrap_or(200_000);
    let batch = repeat(RFC4975_SEND, 64);
    let mut decoder = Decoder::new();
    let t = std::time::Instant::now();
    let mut frames = 0u64;
    for _ in 0..n {
        decoder.push(&batch);
        while let Some(frame) = decoder.decode().expect("valid") {
            black_box(frame.body());
            frames += 1;
        }
    }
    let e = t.elapsed();
    println!(
        "{frames} frames {:.1} ns/frame (incl push)",
        e.as_nanos() as f64 / frames as f64
    );
    if std::env::var_os("TIMER").is_some() {
        let t = std::time::Instant::now();
        for _ in 0..n * 64 {
            black_box(std::time::Instant::now());
        }
        println!(
            "Instant::now {:.1} ns",
            t.elapsed().as_nanos() as f64 / (n * 64) as f64
        );
    }
}
