use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    // clap exits with 2 on usage errors, matching dropgen's documented exit codes.
    dropgen::cli::run(dropgen::cli::Args::parse())
}
