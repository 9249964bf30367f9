//! The msrp half of `small_frame` alone, for `perf stat` and profilers.

use std::hint::black_box;

use msrp_benches::{RFC4975_SEND, repeat};
use msrp_wire::Decoder;

fn main() {
    let batch = repeat(RFC4975_SEND, 64);
    let mut decoder = Decoder::new();
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100_000);
    for _ in 0..rounds {
        decoder.push(&batch);
        while let Some(frame) = decoder.decode().unwrap() {
            black_box(frame.body());
        }
    }
}
