//! The names every layer shares: the kinds of message, the versions and the named phases.
//!
//! This module imports nothing from the crate, so the codec, the errors and the traces can
//! name a message or a phase without reaching up into the handshake. Each handshake message
//! kind is listed once, here, with its wire code; `codec::enums::HandshakeType` and the
//! parsed `HandshakePayload` both map back to [`Msg`] rather than keeping lists of their own.

use core::fmt;

macro_rules! messages {
    (
        handshake { $( $(#[$hmeta:meta])* $hs:ident = $code:literal, )* }
        other { $( $(#[$ometa:meta])* $other:ident, )* }
    ) => {
        /// A kind of message, as the state tables, traces and errors name it: every
        /// handshake message of TLS 1.2 and 1.3, plus the records the tables treat as steps.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Msg {
            $( $(#[$hmeta])* $hs, )*
            $( $(#[$ometa])* $other, )*
        }

        impl Msg {
            /// Every kind, in this order.
            pub const ALL: &'static [Msg] = &[ $( Msg::$hs, )* $( Msg::$other, )* ];

            /// The name used in the RFCs, traces and diagrams.
            pub const fn name(self) -> &'static str {
                match self {
                    $( Msg::$hs => stringify!($hs), )*
                    $( Msg::$other => stringify!($other), )*
                }
            }

            /// The `msg_type` this kind travels under; `None` for records that are not
            /// handshake messages.
            pub const fn wire_type(self) -> Option<u8> {
                match self {
                    $( Msg::$hs => Some($code), )*
                    $( Msg::$other => None, )*
                }
            }
        }
    };
}

messages! {
    handshake {
        /// TLS 1.2 only; never part of the transcript.
        HelloRequest = 0x00,
        ClientHello = 0x01,
        ServerHello = 0x02,
        /// A ServerHello whose random is the special value of RFC 8446 §4.1.3.
        HelloRetryRequest = 0x02,
        NewSessionTicket = 0x04,
        EndOfEarlyData = 0x05,
        EncryptedExtensions = 0x08,
        Certificate = 0x0b,
        ServerKeyExchange = 0x0c,
        CertificateRequest = 0x0d,
        ServerHelloDone = 0x0e,
        CertificateVerify = 0x0f,
        ClientKeyExchange = 0x10,
        Finished = 0x14,
        KeyUpdate = 0x18,
    }
    other {
        /// The ChangeCipherSpec record (content type 20).
        ChangeCipherSpec,
        /// An application_data record.
        ApplicationData,
    }
}

impl Msg {
    /// The kind a received `msg_type` names. A ServerHello code always comes back as
    /// `ServerHello`: telling a HelloRetryRequest apart takes a look at its random.
    pub fn from_wire_type(code: u8) -> Option<Msg> {
        Msg::ALL
            .iter()
            .copied()
            .filter(|m| *m != Msg::HelloRetryRequest)
            .find(|m| m.wire_type() == Some(code))
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A protocol version tlsmachine speaks. TLS 1.0 and 1.1 are refused (RFC 8996), so they
/// have no value here.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    Tls12,
    Tls13,
}

impl Version {
    /// The name OpenSSL and the RFCs' registries use.
    pub fn name(self) -> &'static str {
        match self {
            Version::Tls12 => "TLSv1.2",
            Version::Tls13 => "TLSv1.3",
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A flight-level state of the handshake, as named in python-tls's handshake notes
/// (ARCHITECTURE.md §2). These names are public API: they appear in
/// `Connection::state()`, in traces and in the diagrams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Nothing sent or received yet (server: also after sending a HelloRetryRequest).
    Idle,
    /// Client: ClientHello sent, waiting for the server's first flight.
    Wait1,
    /// Client, TLS 1.2: its key-exchange flight sent, waiting for the server's Finished.
    Wait2,
    /// Server: ClientHello received, looking the offered session up. A pause point: the
    /// application may answer the lookup itself (`Connection::provide_session`).
    CheckSessionCache,
    /// Server, full handshake: choosing the certificate for this ClientHello. A pause
    /// point (`Connection::provide_certificate`).
    ChooseCertificate,
    /// Signing with our private key before the flight that carries the signature goes out:
    /// a server's ServerKeyExchange or CertificateVerify, a client's CertificateVerify. A
    /// pause point (`Connection::provide_signature`).
    Sign,
    /// Server: full handshake flight sent, waiting for the client's Finished.
    Wait,
    /// Server: resumed handshake flight sent, waiting for the client's Finished.
    WaitResume,
    /// Handshake complete; application data flows both ways.
    AppData,
    /// We sent close_notify and wait for the peer's; the peer may still send data.
    HostInitiatedClosing,
    /// Closed, orderly or by a fatal alert. Terminal.
    Shutdown,
}

impl Phase {
    pub const ALL: [Phase; 11] = [
        Phase::Idle,
        Phase::Wait1,
        Phase::Wait2,
        Phase::CheckSessionCache,
        Phase::ChooseCertificate,
        Phase::Sign,
        Phase::Wait,
        Phase::WaitResume,
        Phase::AppData,
        Phase::HostInitiatedClosing,
        Phase::Shutdown,
    ];

    /// The upper-case name used in the architecture notes, traces and diagrams.
    pub fn name(self) -> &'static str {
        match self {
            Phase::Idle => "IDLE",
            Phase::Wait1 => "WAIT_1",
            Phase::Wait2 => "WAIT_2",
            Phase::CheckSessionCache => "CHECK_SESSION_CACHE",
            Phase::ChooseCertificate => "CHOOSE_CERTIFICATE",
            Phase::Sign => "SIGN",
            Phase::Wait => "WAIT",
            Phase::WaitResume => "WAIT_RESUME",
            Phase::AppData => "APP_DATA",
            Phase::HostInitiatedClosing => "HOST_INITIATED_CLOSING",
            Phase::Shutdown => "SHUTDOWN",
        }
    }

    /// Whether the handshake is still running in this phase.
    pub fn is_handshaking(self) -> bool {
        matches!(
            self,
            Phase::Idle
                | Phase::Wait1
                | Phase::Wait2
                | Phase::CheckSessionCache
                | Phase::ChooseCertificate
                | Phase::Sign
                | Phase::Wait
                | Phase::WaitResume
        )
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_types_are_unique_except_the_retry_request() {
        let mut seen = std::collections::BTreeMap::new();
        for m in Msg::ALL {
            if let Some(code) = m.wire_type() {
                if let Some(other) = seen.insert(code, *m) {
                    assert_eq!(
                        (other, *m),
                        (Msg::ServerHello, Msg::HelloRetryRequest),
                        "two kinds share code {code:#04x}"
                    );
                }
            }
        }
        assert_eq!(Msg::from_wire_type(0x02), Some(Msg::ServerHello));
        assert_eq!(Msg::from_wire_type(0x18), Some(Msg::KeyUpdate));
        assert_eq!(Msg::from_wire_type(0x03), None);
        assert_eq!(Msg::ChangeCipherSpec.wire_type(), None);
    }
}
