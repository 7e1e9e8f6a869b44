//! A chat room over the stack: one stream per user, text lines both ways.
//!
//! The client's first line is its name; then each line it sends is a message. The server sends lines ready
//! to show: `<name> text` for messages, `* ...` for announcements (joins, leaves, `/who`), `! ...` for a
//! refusal just before it closes the stream.

pub mod client;
pub mod server;

/// Longest line accepted either way (bytes); longer lines end that user's session.
pub const MAX_LINE: usize = 2048;

/// Longest user name.
pub const MAX_NAME: usize = 32;

/// Whether `name` is acceptable: 1 to 32 characters, no spaces or control characters.
///
/// ```
/// assert!(kcp_examples::chat::valid_name("alice"));
/// assert!(!kcp_examples::chat::valid_name("a b"));
/// ```
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= MAX_NAME
        && !name.chars().any(|c| c.is_whitespace() || c.is_control())
}
