//! Drop-in replacement for `kcptun-server` (same flags, defaults and `-c` JSON config).
fn main() -> std::process::ExitCode {
    kcp_examples::tunnel::server_main(std::env::args_os().collect())
}
