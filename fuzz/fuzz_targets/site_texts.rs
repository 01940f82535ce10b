//! `load` + `validate` on `dropgen.yaml` and `drop.yaml` text (`<config>\0<drop>`, or a drop alone).
//! The invariants are checked in `dropgen::fuzzing::site_texts`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    dropgen::fuzzing::site_texts(data);
});
