//! The client's TLS 1.3 table (RFC 8446 §2, ARCHITECTURE.md §2): IDLE → WAIT_1 → APP_DATA
//! (through SIGN when the server asks for our certificate), with one HelloRetryRequest at
//! most, and the post-handshake messages.

use super::Msg::*;
use super::{row, Branch, Cond, Event, Flight, FlightName, Input, Output, Phase::*, Row, Step};

#[rustfmt::skip]
pub(crate) const CLIENT_TLS13: &[Row] = &[
//      from                  input                                                   to                    we send
    row(Idle,                 Input::Event(Event::Start),                             Wait1,                Output::Flight(CLIENT_HELLO)),
    row(Wait1,                Input::Flight(Branch::Retry, HELLO_RETRY_REQUEST),      Wait1,                Output::Flight(CLIENT_HELLO_AFTER_RETRY)),
    row(Wait1,                Input::Flight(Branch::Full, SERVER_FLIGHT),             AppData,              Output::Flight(CLIENT_FINISHED)),
    row(Wait1,                Input::Flight(Branch::Full, SERVER_FLIGHT_CERT_REQUEST), Sign,                Output::Nothing),
    row(Sign,                 Input::Event(Event::Signed),                            AppData,              Output::Flight(CLIENT_FINISHED)),
    row(Wait1,                Input::Flight(Branch::Resumed, SERVER_RESUMED),         AppData,              Output::Flight(CLIENT_RESUMED)),
    row(AppData,              Input::Flight(Branch::PostHandshake, NEW_SESSION_TICKET), AppData,            Output::Nothing),
    row(AppData,              Input::Flight(Branch::PostHandshake, KEY_UPDATE),       AppData,              Output::Flight(KEY_UPDATE_ANSWER)),
    row(AppData,              Input::Event(Event::LocalKeyUpdate),                    AppData,              Output::Flight(OUR_KEY_UPDATE)),
    // After our close_notify the server may still write: tickets and key updates come, but
    // we can no longer answer.
    row(HostInitiatedClosing, Input::Flight(Branch::PostHandshake, NEW_SESSION_TICKET), HostInitiatedClosing, Output::Nothing),
    row(HostInitiatedClosing, Input::Flight(Branch::PostHandshake, KEY_UPDATE),       HostInitiatedClosing, Output::Nothing),
];

/// The ClientHello; one offering 0-RTT data is followed by the compatibility
/// ChangeCipherSpec right away, then the early data (RFC 8446 §D.4).
#[rustfmt::skip]
const CLIENT_HELLO: Flight = Flight::new(FlightName::ClientHello, &[
    Step::always(ClientHello),
    Step::peer_may_omit(ChangeCipherSpec),                    // compatibility mode, 0-RTT
]);

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.4
//# If a client receives a second
//# HelloRetryRequest in the same connection (i.e., where the ClientHello
//# was itself in response to a HelloRetryRequest), it MUST abort the
//# handshake with an "unexpected_message" alert.
const HELLO_RETRY_REQUEST: &[Step] = &[Step::only_if(HelloRetryRequest, Cond::FirstHello)];

/// The server's flight. Its compatibility ChangeCipherSpec comes right after the
/// HelloRetryRequest or the ServerHello (RFC 8446 §D.4), once.
#[rustfmt::skip]
const SERVER_FLIGHT: &[Step] = &[
    Step::may_if(ChangeCipherSpec, Cond::CompatCcsAllowed),   // after a HelloRetryRequest
    Step::always(ServerHello),
    Step::may_if(ChangeCipherSpec, Cond::CompatCcsAllowed),
    Step::always(EncryptedExtensions),
    Step::always(Certificate),
    Step::always(CertificateVerify),
    Step::always(Finished),
];

/// The server's flight asking for our certificate: we may have to sign before answering
/// (SIGN).
#[rustfmt::skip]
const SERVER_FLIGHT_CERT_REQUEST: &[Step] = &[
    Step::may_if(ChangeCipherSpec, Cond::CompatCcsAllowed),   // after a HelloRetryRequest
    Step::always(ServerHello),
    Step::may_if(ChangeCipherSpec, Cond::CompatCcsAllowed),
    Step::always(EncryptedExtensions),
    Step::always(CertificateRequest),
    Step::always(Certificate),
    Step::always(CertificateVerify),
    Step::always(Finished),
];

/// The server accepted a PSK: no certificates, its Finished proves it knew the PSK.
#[rustfmt::skip]
const SERVER_RESUMED: &[Step] = &[
    Step::may_if(ChangeCipherSpec, Cond::CompatCcsAllowed),   // after a HelloRetryRequest
    Step::always(ServerHello),
    Step::may_if(ChangeCipherSpec, Cond::CompatCcsAllowed),
    Step::always(EncryptedExtensions),
    Step::always(Finished),
];

#[rustfmt::skip]
const CLIENT_HELLO_AFTER_RETRY: Flight = Flight::new(FlightName::ClientHelloAfterRetry, &[
    Step::peer_may_omit(ChangeCipherSpec),                    // compatibility mode
    Step::always(ClientHello),
]);

#[rustfmt::skip]
const CLIENT_FINISHED: Flight = Flight::new(FlightName::ClientFinished, &[
    Step::peer_may_omit(ChangeCipherSpec),                    // compatibility mode, unless sent
    Step::only_if(Certificate, Cond::CertRequested),          // empty when we have none that fits
    Step::only_if(CertificateVerify, Cond::ClientCertSent),
    Step::always(Finished),
]);

/// Our answer to a resumed flight: EndOfEarlyData closes accepted 0-RTT data.
#[rustfmt::skip]
const CLIENT_RESUMED: Flight = Flight::new(FlightName::ClientFinished, &[
    Step::peer_may_omit(ChangeCipherSpec),                    // compatibility mode, unless sent
    Step::only_if(EndOfEarlyData, Cond::EarlyDataAccepted),
    Step::always(Finished),
]);

const NEW_SESSION_TICKET: &[Step] = &[Step::always(NewSessionTicket)];
const KEY_UPDATE: &[Step] = &[Step::always(KeyUpdate)];

//= https://www.rfc-editor.org/rfc/rfc8446#section-4.6.3
//# If the request_update field is set to "update_requested", then the
//# receiver MUST send a KeyUpdate of its own with request_update set to
//# "update_not_requested" prior to sending its next Application Data
//# record.
pub(crate) const KEY_UPDATE_ANSWER: Flight = Flight::new(
    FlightName::KeyUpdateAnswer,
    &[Step::only_if(KeyUpdate, Cond::UpdateRequested)],
);

pub(crate) const OUR_KEY_UPDATE: Flight =
    Flight::new(FlightName::KeyUpdate, &[Step::always(KeyUpdate)]);
