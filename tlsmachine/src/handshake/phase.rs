//! The named phases of a connection (ARCHITECTURE.md §2). These names are public API: they
//! appear in `Connection::state()`, in traces and in the diagrams.

use core::fmt;

/// A flight-level state of the handshake, as named in python-tls's handshake notes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Phase {
    /// Nothing sent or received yet.
    Idle,
    /// Client: ClientHello sent, waiting for the server's first flight.
    Wait1,
    /// Client: its key-exchange flight sent, waiting for the server's Finished.
    Wait2,
    /// Server: ClientHello received, looking the offered session up.
    CheckSessionCache,
    /// Server: full handshake flight sent, waiting for the client's Finished.
    Wait,
    /// Server: resumed handshake flight sent, waiting for the client's Finished.
    WaitResume,
    /// Handshake complete; application data flows both ways.
    AppData,
    /// We sent close_notify and wait for the peer's.
    HostInitiatedClosing,
    /// Closed, orderly or by a fatal alert. Terminal.
    Shutdown,
}

impl Phase {
    pub const ALL: [Phase; 9] = [
        Phase::Idle,
        Phase::Wait1,
        Phase::Wait2,
        Phase::CheckSessionCache,
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
