//! A blocking TLS stream over any `Read + Write` transport (a `TcpStream`, a pipe).

use std::io::{self, Read, Write};

use crate::codec::limits::MAX_PLAINTEXT;
use crate::conn::Connection;
use crate::error::Error;
use crate::handshake::Phase;

/// Drives a [`Connection`] over a blocking transport. Reads return decrypted application
/// data; `Ok(0)` means the peer sent close_notify. End of stream without close_notify is an
/// error (truncation), never a silent `Ok(0)`.
pub struct Stream<T: Read + Write> {
    conn: Connection,
    io: T,
    /// Records are sealed straight into this reused buffer and written from it, so
    /// application data is read once and written once on its way to the transport.
    sealed: Vec<u8>,
}

/// Plaintext taken per `write` call: four full records, so `sealed` stays small.
const WRITE_CHUNK: usize = 4 * MAX_PLAINTEXT;

impl<T: Read + Write> Stream<T> {
    /// Wraps a connection; a client connection's ClientHello is queued right away.
    pub fn new(mut conn: Connection, io: T) -> Result<Self, Error> {
        conn.start()?;
        Ok(Self {
            conn,
            io,
            sealed: Vec::new(),
        })
    }

    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    pub fn connection_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    pub fn get_ref(&self) -> &T {
        &self.io
    }

    pub fn into_parts(self) -> (Connection, T) {
        (self.conn, self.io)
    }

    /// Runs the handshake to completion (APP_DATA), or to its error.
    pub fn handshake(&mut self) -> io::Result<()> {
        while self.conn.is_handshaking() {
            self.flush_tls()?;
            if !self.conn.is_handshaking() {
                break;
            }
            self.read_more()?;
        }
        self.flush_tls()?;
        match self.conn.error() {
            Some(e) => Err(io::Error::other(e.clone())),
            None => Ok(()),
        }
    }

    /// Sends close_notify and waits for the peer's (HOST_INITIATED_CLOSING -> SHUTDOWN).
    /// A peer that just drops the transport after our close_notify is accepted.
    pub fn close(&mut self) -> io::Result<()> {
        self.conn.close().map_err(io::Error::other)?;
        self.flush_tls()?;
        while self.conn.state() == Phase::HostInitiatedClosing {
            let mut scratch = [0u8; 4096];
            while self
                .conn
                .read_data(&mut scratch)
                .map_err(io::Error::other)?
                > 0
            {}
            match self.conn.read_tls(&mut self.io) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => break,
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn flush_tls(&mut self) -> io::Result<()> {
        while self.conn.wants_write() {
            self.conn.write_tls(&mut self.io)?;
        }
        self.io.flush()
    }

    /// Reads once from the transport; end of stream becomes the connection's verdict.
    fn read_more(&mut self) -> io::Result<()> {
        let result = self.conn.read_tls(&mut self.io);
        // An alert we queued while failing must still reach the peer.
        let _ = self.flush_tls();
        match result? {
            0 => self.conn.receive_eof().map_err(io::Error::other),
            _ => Ok(()),
        }
    }
}

impl<T: Read + Write> Read for Stream<T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.handshake()?;
        loop {
            let n = self.conn.read_data(buf).map_err(io::Error::other)?;
            if n > 0 || buf.is_empty() || self.conn.peer_closed() {
                // Our close_notify in answer to the peer's is queued by the table.
                let _ = self.flush_tls();
                return Ok(n);
            }
            self.read_more()?;
        }
    }
}

impl<T: Read + Write> Write for Stream<T> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.handshake()?;
        let chunk = &buf[..buf.len().min(WRITE_CHUNK)];
        let needed = self.conn.sealed_len(chunk.len());
        if self.sealed.len() < needed {
            self.sealed.resize(needed, 0);
        }
        let n = self
            .conn
            .write_data_into(chunk, &mut self.sealed)
            .map_err(io::Error::other)?;
        self.io.write_all(&self.sealed[..n])?;
        Ok(chunk.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_tls()
    }
}
