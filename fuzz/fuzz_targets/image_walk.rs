//! Opens the input as an image, walks every view under tight limits, reads
//! every file under a byte budget and checks oracles: a file read twice gives
//! the same bytes, and `lookup` finds what the walk found.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/isoforge/tests/common/exercise.rs"]
#[allow(dead_code)]
mod exercise;

fuzz_target!(|data: &[u8]| {
    exercise::exercise(data);
});
