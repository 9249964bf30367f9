#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| msrp_fuzz::ws_frames::check(data));
