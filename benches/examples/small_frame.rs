//! Quick measurement of the small-frame decode cost, for working on the decoder: prints ns per
//! frame for msrp-wire and for httparse on the benchmark inputs. Run with
//! `cargo run --release -p msrp-benches --example small_frame`.

use std::hint::black_box;
use std::time::Instant;

use msrp_benches::{HTTP_REQUEST, RFC4975_SEND, repeat};
use msrp_wire::Decoder;

fn main() {
    let batch = repeat(RFC4975_SEND, 64);
    let mut decoder = Decoder::new();
    let rounds = 20_000;
    let mut best_msrp = f64::MAX;
    let mut best_http = f64::MAX;
    for _ in 0..5 {
        let mut total = 0u128;
        for _ in 0..rounds {
            decoder.push(&batch);
            let t = Instant::now();
            while let Some(frame) = decoder.decode().unwrap() {
                black_box(frame.body());
            }
            total += t.elapsed().as_nanos();
        }
        best_msrp = best_msrp.min(total as f64 / (rounds * 64) as f64);
        let t = Instant::now();
        for _ in 0..rounds * 64 {
            let mut headers = [httparse::EMPTY_HEADER; 16];
            let mut req = httparse::Request::new(&mut headers);
            black_box(req.parse(black_box(HTTP_REQUEST)).unwrap());
        }
        best_http = best_http.min(t.elapsed().as_nanos() as f64 / (rounds * 64) as f64);
    }
    println!(
        "msrp {best_msrp:.1} ns/frame, httparse {best_http:.1} ns/request, ratio {:.2}",
        best_http / best_msrp
    );
}
