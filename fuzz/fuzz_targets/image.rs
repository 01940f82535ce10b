//! Image header probing and decoding: JPEG, PNG and WebP, with ICC profiles and EXIF.
//! The invariants are checked in `dropgen::fuzzing::image`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dropgen::fuzzing::image(data);
});
