#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| msrp_fuzz::endpoint_drive::check(data));
