//! The declared state machines: pure data. One table per role and version lists every
//! transition as `(from, input) -> (to, what we send)`. The driver (`handshake::driver`) is
//! the only reader of these tables and the only code that changes the phase; renderers draw
//! the same rows as diagrams.

pub(crate) mod client;
pub(crate) mod common;
pub mod render;
pub(crate) mod server;
#[cfg(test)]
mod tests;

use core::fmt;

pub use crate::handshake::phase::Phase;

/// A message kind as the tables name it: the handshake messages of TLS 1.2 plus the
/// ChangeCipherSpec record, which the tables treat as a step like any other so that an early
/// CCS is refused by construction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Msg {
    HelloRequest,
    ClientHello,
    ServerHello,
    Certificate,
    ServerKeyExchange,
    CertificateRequest,
    ServerHelloDone,
    CertificateVerify,
    ClientKeyExchange,
    NewSessionTicket,
    ChangeCipherSpec,
    Finished,
    ApplicationData,
}

impl Msg {
    /// The table's name for a handshake message type; `None` for types TLS 1.2 lacks.
    pub fn from_handshake_type(typ: crate::codec::enums::HandshakeType) -> Option<Msg> {
        use crate::codec::enums::HandshakeType as T;
        Some(match typ {
            T::HELLO_REQUEST => Msg::HelloRequest,
            T::CLIENT_HELLO => Msg::ClientHello,
            T::SERVER_HELLO => Msg::ServerHello,
            T::CERTIFICATE => Msg::Certificate,
            T::SERVER_KEY_EXCHANGE => Msg::ServerKeyExchange,
            T::CERTIFICATE_REQUEST => Msg::CertificateRequest,
            T::SERVER_HELLO_DONE => Msg::ServerHelloDone,
            T::CERTIFICATE_VERIFY => Msg::CertificateVerify,
            T::CLIENT_KEY_EXCHANGE => Msg::ClientKeyExchange,
            T::NEW_SESSION_TICKET => Msg::NewSessionTicket,
            T::FINISHED => Msg::Finished,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Msg::HelloRequest => "HelloRequest",
            Msg::ClientHello => "ClientHello",
            Msg::ServerHello => "ServerHello",
            Msg::Certificate => "Certificate",
            Msg::ServerKeyExchange => "ServerKeyExchange",
            Msg::CertificateRequest => "CertificateRequest",
            Msg::ServerHelloDone => "ServerHelloDone",
            Msg::CertificateVerify => "CertificateVerify",
            Msg::ClientKeyExchange => "ClientKeyExchange",
            Msg::NewSessionTicket => "NewSessionTicket",
            Msg::ChangeCipherSpec => "ChangeCipherSpec",
            Msg::Finished => "Finished",
            Msg::ApplicationData => "ApplicationData",
        }
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fact learned during the handshake that decides whether an optional message is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// The suite's key exchange is ephemeral ECDH, so the server signs its key share in
    /// ServerKeyExchange (every suite we implement; RSA key transport would not).
    EcdheSuite,
    /// The server is configured to ask for a client certificate.
    ClientAuthConfigured,
    /// A CertificateRequest was received (client) or sent (server).
    CertRequested,
    /// The client sent a non-empty Certificate, so CertificateVerify must follow.
    ClientCertSent,
    /// The server promised a ticket (empty session_ticket extension in ServerHello).
    TicketPromised,
}

impl Cond {
    pub fn describe(self) -> &'static str {
        match self {
            Cond::EcdheSuite => "ECDHE suite",
            Cond::ClientAuthConfigured => "client auth configured",
            Cond::CertRequested => "certificate requested",
            Cond::ClientCertSent => "client certificate sent",
            Cond::TicketPromised => "ticket promised",
        }
    }
}

/// Whether a step of a flight must, may or must not appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Always,
    /// Required when the condition holds, and refused when it does not.
    If(Cond),
    /// The peer decides; the message is allowed here and may be absent.
    PeerMayOmit,
}

/// One message of a flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub msg: Msg,
    pub when: When,
}

impl Step {
    pub const fn always(msg: Msg) -> Self {
        Self {
            msg,
            when: When::Always,
        }
    }

    pub const fn only_if(msg: Msg, cond: Cond) -> Self {
        Self {
            msg,
            when: When::If(cond),
        }
    }

    pub const fn peer_may_omit(msg: Msg) -> Self {
        Self {
            msg,
            when: When::PeerMayOmit,
        }
    }
}

/// Two rows leaving the same phase on a flight are told apart by a branch, chosen by the
/// handler of the flight's first message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Branch {
    Full,
    Resumed,
    /// A HelloRequest or ClientHello after the handshake: refused with a warning.
    Renegotiation,
}

/// Something that happens without a handshake message from the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Event {
    /// The local side starts the handshake (client).
    Start,
    /// The server found the offered session and is willing to resume it.
    SessionFound,
    /// The offered session is unknown, expired or refused.
    SessionAbsent,
    /// The application closes the connection.
    LocalClose,
    /// The peer's close_notify arrived.
    CloseNotifyReceived,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::Start => "start",
            Event::SessionFound => "session found",
            Event::SessionAbsent => "session absent",
            Event::LocalClose => "local close",
            Event::CloseNotifyReceived => "close_notify received",
        }
    }
}

/// What moves the machine along a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Input {
    /// The peer's flight, as ordered steps.
    Flight(Branch, &'static [Step]),
    Event(Event),
}

/// What we send when taking a row. Alerts are listed apart from handshake messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Nothing,
    Flight(&'static [Step]),
    Alert(crate::codec::enums::AlertDescription),
}

/// One transition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub from: Phase,
    pub input: Input,
    pub to: Phase,
    pub output: Output,
}

pub(crate) const fn row(from: Phase, input: Input, to: Phase, output: Output) -> Row {
    Row {
        from,
        input,
        to,
        output,
    }
}

/// A whole state machine: its name and rows. The fatal-error edge (any phase to SHUTDOWN)
/// is implied for every phase and drawn by the renderers.
#[derive(Clone, Copy, Debug)]
pub struct Table {
    pub name: &'static str,
    /// The handshake rows of this role and version.
    pub rows: &'static [Row],
    /// The rows every role shares: renegotiation refusal and orderly closing.
    pub common: &'static [Row],
}

impl Table {
    /// Every phase that appears in the table.
    pub fn phases(&self) -> Vec<Phase> {
        let mut out: Vec<Phase> = self.all_rows().flat_map(|r| [r.from, r.to]).collect();
        out.sort();
        out.dedup();
        out
    }

    /// The role's own rows followed by the shared ones.
    pub fn all_rows(&self) -> impl Iterator<Item = &'static Row> {
        self.rows.iter().chain(self.common.iter())
    }
}

/// The TLS 1.2 client table.
pub const CLIENT_TLS12: Table = Table {
    name: "client TLS 1.2",
    rows: client::CLIENT_TLS12,
    common: common::CLIENT_COMMON,
};

/// The TLS 1.2 server table.
pub const SERVER_TLS12: Table = Table {
    name: "server TLS 1.2",
    rows: server::SERVER_TLS12,
    common: common::SERVER_COMMON,
};
