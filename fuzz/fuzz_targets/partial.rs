#![no_main]
//! Fuzz target: see `emengine::fuzzing::partial`.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| emengine::fuzzing::partial(data));
