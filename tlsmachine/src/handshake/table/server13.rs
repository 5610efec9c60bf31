//! The server's TLS 1.3 table (RFC 8446 §2, ARCHITECTURE.md §2): IDLE → CHECK_SESSION_CACHE
//! → CHOOSE_CERTIFICATE → SIGN → WAIT (full handshake) or WAIT_RESUME (an accepted PSK) →
//! APP_DATA, with one HelloRetryRequest at most (IDLE → IDLE), and the post-handshake
//! messages.

use super::client13::{KEY_UPDATE_ANSWER, OUR_KEY_UPDATE};
use super::Msg::*;
use super::{row, Branch, Cond, Event, Flight, FlightName, Input, Output, Phase::*, Row, Step};

#[rustfmt::skip]
pub(crate) const SERVER_TLS13: &[Row] = &[
//      from                  input                                                to                    we send
    row(Idle,                 Input::Flight(Branch::Retry, FIRST_CLIENT_HELLO),    Idle,                 Output::Flight(HELLO_RETRY_REQUEST)),
    row(Idle,                 Input::Flight(Branch::Full, CLIENT_HELLO),           CheckSessionCache,    Output::Nothing),
    row(CheckSessionCache,    Input::Event(Event::SessionFound),                   WaitResume,           Output::Flight(SERVER_RESUMED)),
    row(CheckSessionCache,    Input::Event(Event::SessionAbsent),                  ChooseCertificate,    Output::Nothing),
    row(ChooseCertificate,    Input::Event(Event::CertificateChosen),              Sign,                 Output::Nothing),
    row(Sign,                 Input::Event(Event::Signed),                         Wait,                 Output::Flight(SERVER_FLIGHT)),
    row(Wait,                 Input::Flight(Branch::Full, CLIENT_FINISHED),        AppData,              Output::Flight(NEW_SESSION_TICKETS)),
    row(WaitResume,           Input::Flight(Branch::Resumed, CLIENT_RESUMED),      AppData,              Output::Flight(NEW_SESSION_TICKETS)),
    row(AppData,              Input::Flight(Branch::PostHandshake, KEY_UPDATE),    AppData,              Output::Flight(KEY_UPDATE_ANSWER)),
    row(AppData,              Input::Event(Event::LocalKeyUpdate),                 AppData,              Output::Flight(OUR_KEY_UPDATE)),
    // After our close_notify the client may still write and update its keys; we cannot
    // answer any more.
    row(HostInitiatedClosing, Input::Flight(Branch::PostHandshake, KEY_UPDATE),    HostInitiatedClosing, Output::Nothing),
];

/// A first ClientHello whose key shares we cannot use earns a HelloRetryRequest; a second
/// one never does.
const FIRST_CLIENT_HELLO: &[Step] = &[Step::only_if(ClientHello, Cond::FirstHello)];

/// After a HelloRetryRequest, the client's compatibility ChangeCipherSpec comes before its
/// second ClientHello (RFC 8446 §D.4).
const CLIENT_HELLO: &[Step] = &[
    Step::may_if(ChangeCipherSpec, Cond::CompatCcsAllowed),
    Step::always(ClientHello),
];

#[rustfmt::skip]
const HELLO_RETRY_REQUEST: Flight = Flight::new(FlightName::HelloRetryRequest, &[
    Step::always(HelloRetryRequest),
    Step::peer_may_omit(ChangeCipherSpec),                    // compatibility mode
]);

#[rustfmt::skip]
const SERVER_FLIGHT: Flight = Flight::new(FlightName::ServerHello, &[
    Step::always(ServerHello),
    Step::peer_may_omit(ChangeCipherSpec),                    // compatibility mode, unless sent
    Step::always(EncryptedExtensions),
    Step::only_if(CertificateRequest, Cond::ClientAuthConfigured),
    Step::always(Certificate),
    Step::always(CertificateVerify),
    Step::always(Finished),
]);

/// A PSK we accepted: no certificates, and 0-RTT data if we took it.
#[rustfmt::skip]
const SERVER_RESUMED: Flight = Flight::new(FlightName::ServerResumed13, &[
    Step::always(ServerHello),
    Step::peer_may_omit(ChangeCipherSpec),                    // compatibility mode, unless sent
    Step::always(EncryptedExtensions),
    Step::always(Finished),
]);

/// After accepted 0-RTT data the client ends it with EndOfEarlyData, under the early keys
/// (RFC 8446 §4.5); its compatibility ChangeCipherSpec came right after its ClientHello.
#[rustfmt::skip]
const CLIENT_RESUMED: &[Step] = &[
    Step::may_if(ChangeCipherSpec, Cond::CompatCcsAllowed),
    Step::only_if(EndOfEarlyData, Cond::EarlyDataAccepted),
    Step::always(Finished),
];

/// Tickets for later resumption, as many as configured (RFC 8446 §4.6.1).
const NEW_SESSION_TICKETS: Flight = Flight::new(
    FlightName::NewSessionTickets,
    &[Step::repeat_if(NewSessionTicket, Cond::TicketsOffered)],
);

#[rustfmt::skip]
const CLIENT_FINISHED: &[Step] = &[
    Step::may_if(ChangeCipherSpec, Cond::CompatCcsAllowed),
    Step::only_if(Certificate, Cond::CertRequested),          // empty when it has none
    Step::only_if(CertificateVerify, Cond::ClientCertSent),
    Step::always(Finished),
];

const KEY_UPDATE: &[Step] = &[Step::always(KeyUpdate)];
