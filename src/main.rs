//! `cargo-migrate`: run as `cargo migrate <command>` or `cargo-migrate migrate <command>`.

fn main() {
    std::process::exit(cargo_migrate::cli::main(std::env::args_os()));
}
