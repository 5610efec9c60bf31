//! Writes wire structures with self-closing length prefixes: the prefix is patched when the
//! nested closure returns, so no code computes an offset by hand.

/// Appends wire bytes to a caller-owned buffer.
pub struct Writer<'a> {
    buf: &'a mut Vec<u8>,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut Vec<u8>) -> Self {
        Self { buf }
    }

    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }

    pub fn u16(&mut self, v: u16) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn u24(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes()[1..]);
    }

    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_be_bytes());
    }

    pub fn bytes(&mut self, v: &[u8]) {
        self.buf.extend_from_slice(v);
    }

    /// Writes whatever `body` writes behind a one-byte length prefix.
    pub fn len_u8(&mut self, body: impl FnOnce(&mut Writer<'_>)) {
        self.prefixed(1, body)
    }

    /// Writes whatever `body` writes behind a two-byte length prefix.
    pub fn len_u16(&mut self, body: impl FnOnce(&mut Writer<'_>)) {
        self.prefixed(2, body)
    }

    /// Writes whatever `body` writes behind a three-byte length prefix.
    pub fn len_u24(&mut self, body: impl FnOnce(&mut Writer<'_>)) {
        self.prefixed(3, body)
    }

    fn prefixed(&mut self, width: usize, body: impl FnOnce(&mut Writer<'_>)) {
        let at = self.buf.len();
        self.buf.extend_from_slice(&[0u8; 3][..width]);
        body(&mut Writer::new(self.buf));
        let len = self.buf.len() - at - width;
        // Invariant: everything we encode is bounded far below these limits by
        // codec::limits and the configuration checks, so an overflow is a bug in this crate.
        assert!(len < 1 << (8 * width), "length prefix overflow");
        let be = (len as u32).to_be_bytes();
        self.buf[at..at + width].copy_from_slice(&be[4 - width..]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_prefixes_are_patched() {
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.u8(0x16);
        w.len_u24(|w| {
            w.len_u16(|w| w.bytes(&[0xaa, 0xbb]));
            w.len_u8(|_| {});
        });
        assert_eq!(
            out,
            [
                0x16, // tag
                0x00, 0x00, 0x05, // u24 length of what follows
                0x00, 0x02, // u16 length
                0xaa, 0xbb, // body
                0x00, // empty u8-prefixed vector
            ]
        );
    }
}
