//! The bytes waiting to go to the peer. Records are sealed straight into this buffer, and
//! its memory stays initialized between writes, so sealing the next record never clears
//! the room first: after the first burst, a write costs the encryption and nothing else.

/// Pending output: `buf[start..end]`. `buf` beyond `end` is zeroed room kept for the next
/// records; it is given back by [`Outgoing::release`].
#[derive(Default)]
pub(crate) struct Outgoing {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// How many pending bytes, from `start`, carry handshake flights the peer needs to
    /// finish (what follows them, TLS 1.3 tickets or a KeyUpdate, can wait).
    handshake: usize,
}

impl Outgoing {
    /// The bytes to send, oldest first.
    pub(crate) fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// `n` bytes were sent.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.len());
        self.start += n;
        self.handshake = self.handshake.saturating_sub(n);
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Everything pending, as the caller's own buffer; ours starts over empty.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        let mut taken = std::mem::take(&mut self.buf);
        taken.truncate(self.end);
        taken.drain(..self.start);
        self.start = 0;
        self.end = 0;
        self.handshake = 0;
        taken
    }

    /// Moves everything pending to the end of `to`.
    pub(crate) fn move_to(&mut self, to: &mut Vec<u8>) {
        to.extend_from_slice(self.pending());
        self.consume(self.len());
    }

    /// `len` writable bytes after the pending ones, for [`Outgoing::commit`]. Memory is
    /// cleared only when the buffer grows.
    pub(crate) fn room(&mut self, len: usize) -> &mut [u8] {
        if self.buf.len() - self.end < len && self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.buf.len() < self.end + len {
            self.buf.resize(self.end + len, 0);
        }
        &mut self.buf[self.end..self.end + len]
    }

    /// The first `len` bytes of the last [`Outgoing::room`] are now pending.
    pub(crate) fn commit(&mut self, len: usize) {
        self.end = (self.end + len).min(self.buf.len());
    }

    /// Everything pending now belongs to a handshake flight.
    pub(crate) fn mark_handshake(&mut self) {
        self.handshake = self.len();
    }

    /// Whether handshake bytes are still unsent.
    pub(crate) fn handshake_pending(&self) -> bool {
        self.handshake > 0
    }

    /// Gives the memory back when nothing is pending.
    pub(crate) fn release(&mut self) {
        if self.is_empty() {
            self.buf = Vec::new();
        }
    }

    /// Bytes of memory held.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.buf.capacity()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Outgoing {
        fn append(&mut self, bytes: &[u8]) {
            self.room(bytes.len()).copy_from_slice(bytes);
            self.commit(bytes.len());
        }
    }

    #[test]
    fn bytes_come_out_in_order_across_partial_sends_and_reuse() {
        let mut out = Outgoing::default();
        out.append(b"hello ");
        out.append(b"world");
        assert_eq!(out.pending(), b"hello world");
        out.consume(6);
        assert_eq!(out.pending(), b"world");
        // Room at the end is made by moving the pending bytes to the front.
        let before = out.capacity();
        out.append(b"!!!!!!");
        assert_eq!(out.pending(), b"world!!!!!!");
        assert!(out.capacity() <= before.max(11) * 2);
        out.consume(100);
        assert!(out.is_empty());
        out.append(b"again");
        assert_eq!(out.take(), b"again");
        assert!(out.is_empty());
        assert_eq!(out.capacity(), 0, "taken with the buffer");
    }

    #[test]
    fn room_is_reused_without_growing() {
        let mut out = Outgoing::default();
        out.room(1000)[..3].copy_from_slice(b"abc");
        out.commit(3);
        out.consume(3);
        let capacity = out.capacity();
        for _ in 0..10 {
            out.room(1000).fill(7);
            out.commit(1000);
            out.consume(1000);
        }
        assert_eq!(out.capacity(), capacity);
        out.release();
        assert_eq!(out.capacity(), 0);
    }

    #[test]
    fn handshake_bytes_are_owed_until_sent() {
        let mut out = Outgoing::default();
        out.append(b"flight");
        out.mark_handshake();
        out.append(b"ticket");
        out.consume(5);
        assert!(out.handshake_pending());
        out.consume(1);
        assert!(!out.handshake_pending(), "only the ticket is left");
        let mut to = b"x".to_vec();
        out.move_to(&mut to);
        assert_eq!(to, b"xticket");
        assert!(out.is_empty());
    }
}
