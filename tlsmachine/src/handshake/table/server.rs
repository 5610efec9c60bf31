//! The server's TLS 1.2 table (ARCHITECTURE.md §2, server rows). A full handshake passes
//! through CHOOSE_CERTIFICATE and SIGN, where the application may answer in place of the
//! configured resolver and key (the pause points).

use crate::codec::enums::AlertDescription;

use super::Msg::*;
use super::{row, Branch, Cond, Event, Flight, FlightName, Input, Output, Phase::*, Row, Step};

#[rustfmt::skip]
pub(crate) const SERVER_TLS12: &[Row] = &[
//      from               input                                               to                 we send
    row(Idle,              Input::Flight(Branch::Full, CLIENT_HELLO),          CheckSessionCache, Output::Nothing),
    row(CheckSessionCache, Input::Event(Event::SessionFound),                  WaitResume,        Output::Flight(SERVER_RESUMED)),
    row(CheckSessionCache, Input::Event(Event::SessionAbsent),                 ChooseCertificate, Output::Nothing),
    row(ChooseCertificate, Input::Event(Event::CertificateChosen),             Sign,              Output::Nothing),
    row(Sign,              Input::Event(Event::Signed),                        Wait,              Output::Flight(SERVER_HELLO_DONE)),
    row(Wait,              Input::Flight(Branch::Full, CLIENT_KEY_EXCHANGE),   AppData,           Output::Flight(SERVER_FINISHED)),
    row(WaitResume,        Input::Flight(Branch::Resumed, CCS_FINISHED),       AppData,           Output::Nothing),
    // RFC 5746 lets us refuse renegotiation with a warning and carry on.
    row(AppData,           Input::Flight(Branch::Renegotiation, CLIENT_HELLO), AppData,           Output::Alert(AlertDescription::NO_RENEGOTIATION)),
];

pub(crate) const CLIENT_HELLO: &[Step] = &[Step::always(ClientHello)];

/// Flight 2 of a full handshake.
#[rustfmt::skip]
const SERVER_HELLO_DONE: Flight = Flight::new(FlightName::ServerHelloDone, &[
    Step::always(ServerHello),                             // a new session ID
    Step::always(Certificate),                             // no anonymous suites
    Step::only_if(ServerKeyExchange, Cond::EcdheSuite),
    Step::only_if(CertificateRequest, Cond::ClientAuthConfigured),
    Step::always(ServerHelloDone),
]);

/// Flight 3, from the client.
#[rustfmt::skip]
const CLIENT_KEY_EXCHANGE: &[Step] = &[
    Step::only_if(Certificate, Cond::CertRequested),
    Step::always(ClientKeyExchange),
    Step::only_if(CertificateVerify, Cond::ClientCertSent),
    Step::always(ChangeCipherSpec),
    Step::always(Finished),
];

/// Flight 4 of a full handshake.
#[rustfmt::skip]
const SERVER_FINISHED: Flight = Flight::new(FlightName::ServerFinished, &[
    Step::only_if(NewSessionTicket, Cond::TicketPromised),
    Step::always(ChangeCipherSpec),
    Step::always(Finished),
]);

/// Flight 2 of an abbreviated handshake: the same session ID, and we finish first.
#[rustfmt::skip]
const SERVER_RESUMED: Flight = Flight::new(FlightName::ServerResumed, &[
    Step::always(ServerHello),                             // the client's session ID echoed
    Step::only_if(NewSessionTicket, Cond::TicketPromised),
    Step::always(ChangeCipherSpec),
    Step::always(Finished),
]);

const CCS_FINISHED: &[Step] = &[Step::always(ChangeCipherSpec), Step::always(Finished)];
