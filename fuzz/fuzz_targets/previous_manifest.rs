//! The previous build's `manifest.json` (`--previous-manifest`), compared and made into purge files.
//! The invariants are checked in `dropgen::fuzzing::previous_manifest`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dropgen::fuzzing::previous_manifest(data);
});
