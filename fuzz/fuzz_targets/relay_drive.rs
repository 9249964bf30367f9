#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| msrp_fuzz::relay_drive::check(data));
