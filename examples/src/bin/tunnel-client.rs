//! Drop-in replacement for `kcptun-client` (same flags, defaults and `-c` JSON config).
fn main() -> std::process::ExitCode {
    kcp_examples::tunnel::client_main(std::env::args_os().collect())
}
