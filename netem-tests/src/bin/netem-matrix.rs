//! Matrix runner (work in progress).
fn main() {}
