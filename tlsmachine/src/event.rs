//! What a connection tells the application, returned by `Connection::poll_event`.

use crate::trace::TraceEvent;

/// Something the application should know about, returned by
/// [`Connection::poll_event`](crate::Connection::poll_event).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The handshake finished; [`Connection::negotiated`](crate::Connection::negotiated) is
    /// complete.
    HandshakeComplete,
    /// The peer sent close_notify: no more data will come.
    PeerClosed,
    /// TLS 1.3 client: the server took our 0-RTT data.
    EarlyDataAccepted,
    /// TLS 1.3 client: the server refused our 0-RTT data; whatever still matters in it must
    /// be sent again, now as ordinary data.
    EarlyDataRejected,
    /// The handshake stopped at a pause point: [`Connection::pause`](crate::Connection::pause)
    /// says what it waits for.
    Paused(crate::pause::PauseKind),
    /// One line of the trace (only with tracing enabled in the config).
    Trace(TraceEvent),
}
