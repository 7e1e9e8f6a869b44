//! Wrap-aware arithmetic on the u32 sequence numbers and millisecond clock, and the extension of the caller's
//! wrapping u32 clock to a monotonic u64 used for internal deadlines.

/// `(a - b)` as a signed distance: positive when `a` is after `b` (wrap-aware, as `_itimediff` in kcp-go).
#[inline]
pub fn diff(a: u32, b: u32) -> i32 {
    a.wrapping_sub(b) as i32
}

/// Extends the caller's wrapping u32 millisecond clock to a monotonic u64.
///
/// A clock that steps backwards is treated as standing still, so deadlines never move into the past.
#[derive(Clone, Debug, Default)]
pub(crate) struct Clock {
    last: u32,
    ext: u64,
    started: bool,
}

impl Clock {
    /// Advances to `now` and returns the extended time.
    pub(crate) fn advance(&mut self, now: u32) -> u64 {
        self.ext = self.peek(now);
        if !self.started || diff(now, self.last) > 0 {
            self.last = now;
        }
        self.started = true;
        self.ext
    }

    /// The extended time `now` would map to, without advancing.
    pub(crate) fn peek(&self, now: u32) -> u64 {
        if !self.started {
            // Start well above 0 so that "now minus something" never underflows.
            return 1 << 32;
        }
        let d = diff(now, self.last);
        if d > 0 { self.ext + d as u64 } else { self.ext }
    }

    /// Converts an extended time back to the caller's u32 clock, relative to `now`.
    pub(crate) fn to_caller(&self, now: u32, at: u64) -> u32 {
        let ext_now = self.peek(now);
        if at <= ext_now {
            now
        } else {
            now.wrapping_add((at - ext_now).min(u32::MAX as u64 / 2) as u32)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_wraps() {
        assert_eq!(diff(1, u32::MAX), 2);
        assert_eq!(diff(u32::MAX, 1), -2);
        assert_eq!(diff(5, 5), 0);
    }

    #[test]
    fn clock_extends_across_wrap() {
        let mut c = Clock::default();
        let a = c.advance(u32::MAX - 10);
        let b = c.advance(5);
        assert_eq!(b - a, 16);
        // Going backwards stands still.
        assert_eq!(c.advance(0), b);
        assert_eq!(c.to_caller(5, b + 100), 105);
        assert_eq!(c.to_caller(5, b - 1), 5);
    }
}
