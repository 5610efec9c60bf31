//! A bounds-checked cursor over received bytes: every read names what it reads, so a short or
//! malformed message becomes an error that says which field was wrong.

use crate::error::InvalidMessage;

/// A cursor over a byte slice. Reads never panic; running out of bytes is an error.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    pub fn u8(&mut self, what: &'static str) -> Result<u8, InvalidMessage> {
        Ok(self.take(1, what)?[0])
    }

    pub fn u16(&mut self, what: &'static str) -> Result<u16, InvalidMessage> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    pub fn u24(&mut self, what: &'static str) -> Result<u32, InvalidMessage> {
        let b = self.take(3, what)?;
        Ok(u32::from_be_bytes([0, b[0], b[1], b[2]]))
    }

    pub fn u32(&mut self, what: &'static str) -> Result<u32, InvalidMessage> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&mut self, what: &'static str) -> Result<u64, InvalidMessage> {
        let b = self.take_array::<8>(what)?;
        Ok(u64::from_be_bytes(b))
    }

    /// Takes exactly `len` bytes.
    pub fn take(&mut self, len: usize, what: &'static str) -> Result<&'a [u8], InvalidMessage> {
        if self.left() < len {
            return Err(InvalidMessage::Truncated { what });
        }
        let out = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(out)
    }

    pub fn take_array<const N: usize>(
        &mut self,
        what: &'static str,
    ) -> Result<[u8; N], InvalidMessage> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, what)?);
        Ok(out)
    }

    /// Bytes behind a one-byte length prefix.
    pub fn vec_u8(&mut self, what: &'static str) -> Result<&'a [u8], InvalidMessage> {
        let len = self.u8(what)? as usize;
        self.take(len, what)
    }

    /// Bytes behind a two-byte length prefix.
    pub fn vec_u16(&mut self, what: &'static str) -> Result<&'a [u8], InvalidMessage> {
        let len = self.u16(what)? as usize;
        self.take(len, what)
    }

    /// Bytes behind a three-byte length prefix.
    pub fn vec_u24(&mut self, what: &'static str) -> Result<&'a [u8], InvalidMessage> {
        let len = self.u24(what)? as usize;
        self.take(len, what)
    }

    /// A nested reader over the bytes behind a one-byte length prefix.
    pub fn sub_u8(&mut self, what: &'static str) -> Result<Reader<'a>, InvalidMessage> {
        self.vec_u8(what).map(Reader::new)
    }

    /// A nested reader over the bytes behind a two-byte length prefix.
    pub fn sub_u16(&mut self, what: &'static str) -> Result<Reader<'a>, InvalidMessage> {
        self.vec_u16(what).map(Reader::new)
    }

    /// A nested reader over the bytes behind a three-byte length prefix.
    pub fn sub_u24(&mut self, what: &'static str) -> Result<Reader<'a>, InvalidMessage> {
        self.vec_u24(what).map(Reader::new)
    }

    /// Everything not read yet.
    pub fn rest(&mut self) -> &'a [u8] {
        let out = &self.buf[self.pos..];
        self.pos = self.buf.len();
        out
    }

    pub fn left(&self) -> usize {
        self.buf.len() - self.pos
    }

    pub fn is_empty(&self) -> bool {
        self.left() == 0
    }

    /// Ends a structure: bytes left over are an error, never silently ignored.
    pub fn finish(self, what: &'static str) -> Result<(), InvalidMessage> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(InvalidMessage::TrailingData { what })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_big_endian_integers() {
        let mut r = Reader::new(&[0x01, 0x02, 0x03, 0x04, 0x05, 0x06]);
        assert_eq!(r.u8("a").unwrap(), 0x01);
        assert_eq!(r.u16("b").unwrap(), 0x0203);
        assert_eq!(r.u24("c").unwrap(), 0x040506);
        assert!(r.is_empty());
    }

    #[test]
    fn short_input_names_the_field() {
        let mut r = Reader::new(&[0x00]);
        assert_eq!(
            r.u16("cipher suite"),
            Err(InvalidMessage::Truncated {
                what: "cipher suite"
            })
        );
    }

    #[test]
    fn length_prefix_beyond_input_is_truncation_not_panic() {
        let mut r = Reader::new(&[0xff, 0xff, 0x00]);
        assert!(matches!(
            r.vec_u16("x"),
            Err(InvalidMessage::Truncated { .. })
        ));
        let mut r = Reader::new(&[0xff, 0xff, 0xff]);
        assert!(matches!(
            r.sub_u24("y"),
            Err(InvalidMessage::Truncated { .. })
        ));
    }

    #[test]
    fn nested_reader_is_bounded_and_finish_rejects_trailing_bytes() {
        let mut r = Reader::new(&[0x00, 0x02, 0xaa, 0xbb, 0xcc]);
        let mut sub = r.sub_u16("list").unwrap();
        assert_eq!(sub.take(2, "items").unwrap(), &[0xaa, 0xbb]);
        assert!(sub.take(1, "more").is_err());
        assert_eq!(
            r.clone().finish("msg"),
            Err(InvalidMessage::TrailingData { what: "msg" })
        );
        assert_eq!(r.rest(), &[0xcc]);
        assert_eq!(r.finish("msg"), Ok(()));
    }
}
