//! The `lowbit` binary: see `lowbit --help`.

fn main() -> std::process::ExitCode {
    lowbit_server::cli::main()
}
