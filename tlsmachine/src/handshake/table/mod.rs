//! The declared state machines: pure data. One table per role and version lists every
//! transition as `(from, input) -> (to, what we send)`. The driver (`handshake::driver`) is
//! the only reader of these tables and the only code that changes the phase; renderers draw
//! the same rows as diagrams.

pub(crate) mod client;
pub(crate) mod client13;
pub(crate) mod common;
pub mod render;
pub(crate) mod server;
pub(crate) mod server13;
#[cfg(test)]
mod tests;

pub use crate::names::{Msg, Phase, Version};

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
    /// No HelloRetryRequest has been sent or received yet: there is at most one.
    FirstHello,
    /// TLS 1.3 middlebox compatibility: one ChangeCipherSpec from the peer may still come
    /// (RFC 8446 §D.4), between the hellos and its Finished, and only once.
    CompatCcsAllowed,
    /// The KeyUpdate just received asks us to update our keys too.
    UpdateRequested,
    /// TLS 1.3: the server accepted the client's 0-RTT data, so EndOfEarlyData ends it.
    EarlyDataAccepted,
    /// TLS 1.3: the server gives the client tickets for resumption.
    TicketsOffered,
}

impl Cond {
    pub fn describe(self) -> &'static str {
        match self {
            Cond::EcdheSuite => "ECDHE suite",
            Cond::ClientAuthConfigured => "client auth configured",
            Cond::CertRequested => "certificate requested",
            Cond::ClientCertSent => "client certificate sent",
            Cond::TicketPromised => "ticket promised",
            Cond::FirstHello => "first hello",
            Cond::CompatCcsAllowed => "compatibility mode",
            Cond::UpdateRequested => "update requested",
            Cond::EarlyDataAccepted => "early data accepted",
            Cond::TicketsOffered => "tickets offered",
        }
    }
}

/// Whether a step of a flight must, may or must not appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Always,
    /// Required when the condition holds, and refused when it does not.
    If(Cond),
    /// The sender decides; the message is allowed here and may be absent.
    PeerMayOmit,
    /// Allowed (and optional) when the condition holds, refused when it does not.
    MayIf(Cond),
    /// Any number of times, none included, when the condition holds.
    RepeatIf(Cond),
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

    pub const fn may_if(msg: Msg, cond: Cond) -> Self {
        Self {
            msg,
            when: When::MayIf(cond),
        }
    }

    pub const fn repeat_if(msg: Msg, cond: Cond) -> Self {
        Self {
            msg,
            when: When::RepeatIf(cond),
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
    /// TLS 1.3: a HelloRetryRequest asks the client for another key share.
    Retry,
    /// TLS 1.3: a message after the handshake (KeyUpdate, NewSessionTicket).
    PostHandshake,
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
    /// The server has the certificate (and, in TLS 1.2, the suite) for a full handshake.
    CertificateChosen,
    /// Our signature is ready; for a client, also when it sends no certificate and so has
    /// nothing to sign.
    Signed,
    /// The application closes the connection.
    LocalClose,
    /// The peer's close_notify arrived.
    CloseNotifyReceived,
    /// TLS 1.3: the application, or the AEAD's usage limit, asks for fresh write keys.
    LocalKeyUpdate,
}

impl Event {
    pub fn name(self) -> &'static str {
        match self {
            Event::Start => "start",
            Event::SessionFound => "session found",
            Event::SessionAbsent => "session absent",
            Event::CertificateChosen => "certificate chosen",
            Event::Signed => "signed",
            Event::LocalClose => "local close",
            Event::CloseNotifyReceived => "close_notify received",
            Event::LocalKeyUpdate => "local key update",
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

/// The flights we send, by name: a handler writes each in one `send_*` function, chosen by
/// this name and never by the row's phases (two rows may join the same phases: a
/// HelloRetryRequest, a KeyUpdate).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FlightName {
    /// The first ClientHello, offering every enabled version.
    ClientHello,
    /// TLS 1.3: the ClientHello that answers a HelloRetryRequest.
    ClientHelloAfterRetry,
    /// TLS 1.2 flight 3: Certificate*, ClientKeyExchange, CertificateVerify*, CCS, Finished.
    ClientKeyExchange,
    /// TLS 1.2 abbreviated handshake: the client's ChangeCipherSpec and Finished.
    ClientResumedFinished,
    /// TLS 1.3: the client's Certificate*, CertificateVerify*, Finished.
    ClientFinished,
    /// TLS 1.2 flight 2: ServerHello through ServerHelloDone.
    ServerHelloDone,
    /// TLS 1.2 abbreviated flight 2: ServerHello, NewSessionTicket*, CCS, Finished.
    ServerResumed,
    /// TLS 1.2 flight 4: NewSessionTicket*, ChangeCipherSpec, Finished.
    ServerFinished,
    /// TLS 1.3: the HelloRetryRequest.
    HelloRetryRequest,
    /// TLS 1.3: ServerHello through the server's Finished.
    ServerHello,
    /// TLS 1.3: the server's flight when it accepts a PSK: ServerHello through Finished,
    /// without certificates.
    ServerResumed13,
    /// TLS 1.3: the server's tickets after the client's Finished.
    NewSessionTickets,
    /// TLS 1.3: our KeyUpdate, when we update our keys.
    KeyUpdate,
    /// TLS 1.3: the answer to a KeyUpdate that asked for one.
    KeyUpdateAnswer,
}

impl FlightName {
    /// Flights sent in APP_DATA, which the peer does not need to finish its handshake.
    pub const fn is_post_handshake(self) -> bool {
        matches!(
            self,
            Self::NewSessionTickets | Self::KeyUpdate | Self::KeyUpdateAnswer
        )
    }
}

/// A flight we send: its name and its steps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flight {
    pub name: FlightName,
    pub steps: &'static [Step],
}

impl Flight {
    pub const fn new(name: FlightName, steps: &'static [Step]) -> Self {
        Self { name, steps }
    }
}

/// What we send when taking a row. Alerts are listed apart from handshake messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    Nothing,
    Flight(Flight),
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
    pub version: Version,
    /// The rows of this role and version.
    pub rows: &'static [Row],
    /// The rows every role and version shares: the orderly close.
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
    version: Version::Tls12,
    rows: client::CLIENT_TLS12,
    common: common::CLOSING,
};

/// The TLS 1.2 server table.
pub const SERVER_TLS12: Table = Table {
    name: "server TLS 1.2",
    version: Version::Tls12,
    rows: server::SERVER_TLS12,
    common: common::CLOSING,
};

/// The TLS 1.3 client table.
pub const CLIENT_TLS13: Table = Table {
    name: "client TLS 1.3",
    version: Version::Tls13,
    rows: client13::CLIENT_TLS13,
    common: common::CLOSING,
};

/// The TLS 1.3 server table.
pub const SERVER_TLS13: Table = Table {
    name: "server TLS 1.3",
    version: Version::Tls13,
    rows: server13::SERVER_TLS13,
    common: common::CLOSING,
};

/// The table of a role and version.
pub fn table(client: bool, version: Version) -> &'static Table {
    match (client, version) {
        (true, Version::Tls12) => &CLIENT_TLS12,
        (true, Version::Tls13) => &CLIENT_TLS13,
        (false, Version::Tls12) => &SERVER_TLS12,
        (false, Version::Tls13) => &SERVER_TLS13,
    }
}
