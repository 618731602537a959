#![no_main]
//! Fuzz target: see `emengine::fuzzing::segment_header`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emengine::fuzzing::segment_header(data));
