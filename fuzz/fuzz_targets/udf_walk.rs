//! Opens the input as a UDF volume (or an ISO 9660 / UDF bridge), walks
//! every view under tight limits, reads every file under a byte budget and
//! checks the oracles of `image_walk`; then parses every block of the input
//! as each UDF descriptor and checks that what parses encodes back to a
//! value that parses the same.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/isoforge/tests/common/exercise.rs"]
#[allow(dead_code)]
mod exercise;

fuzz_target!(|data: &[u8]| {
    exercise::exercise(data);
    exercise::udf_descriptors(data);
});
