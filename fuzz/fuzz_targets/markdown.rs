//! Markdown → sanitised HTML: never a `<script`, an `on…` attribute or a `javascript:` URL.
//! The invariants are checked in `dropgen::fuzzing::markdown`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dropgen::fuzzing::markdown(data);
});
