#![no_main]
//! Fuzz target: see `emengine::fuzzing::extent_map`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emengine::fuzzing::extent_map(data));
