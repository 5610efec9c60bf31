//! The client's TLS 1.2 table (ARCHITECTURE.md §2, client rows).

use crate::codec::enums::AlertDescription;

use super::Msg::*;
use super::{row, Branch, Cond, Event, Flight, FlightName, Input, Output, Phase::*, Row, Step};

#[rustfmt::skip]
pub(crate) const CLIENT_TLS12: &[Row] = &[
//      from     input                                                 to        we send
    row(Idle,    Input::Event(Event::Start),                           Wait1,    Output::Flight(CLIENT_HELLO)),
    row(Wait1,   Input::Flight(Branch::Full, SERVER_HELLO_FULL),       Wait2,    Output::Flight(CLIENT_KEY_EXCHANGE)),
    row(Wait1,   Input::Flight(Branch::Full, SERVER_HELLO_CERT_REQUEST), Sign,   Output::Nothing),
    row(Sign,    Input::Event(Event::Signed),                          Wait2,    Output::Flight(CLIENT_KEY_EXCHANGE)),
    row(Wait1,   Input::Flight(Branch::Resumed, SERVER_RESUMED),       AppData,  Output::Flight(CCS_FINISHED)),
    row(Wait2,   Input::Flight(Branch::Full, SERVER_FINISHED),         AppData,  Output::Nothing),
    // RFC 5746 lets us refuse renegotiation with a warning and carry on.
    row(AppData, Input::Flight(Branch::Renegotiation, HELLO_REQUEST),  AppData,  Output::Alert(AlertDescription::NO_RENEGOTIATION)),
];

/// Flight 1: ClientHello, carrying a cached session ID or ticket when we have one.
pub(crate) const CLIENT_HELLO: Flight =
    Flight::new(FlightName::ClientHello, &[Step::always(ClientHello)]);

/// Flight 2 of a full handshake.
#[rustfmt::skip]
const SERVER_HELLO_FULL: &[Step] = &[
    Step::always(ServerHello),
    Step::always(Certificate),                             // no anonymous suites
    Step::only_if(ServerKeyExchange, Cond::EcdheSuite),
    Step::always(ServerHelloDone),
];

/// Flight 2 asking for our certificate: we may have to sign before answering (SIGN).
#[rustfmt::skip]
const SERVER_HELLO_CERT_REQUEST: &[Step] = &[
    Step::always(ServerHello),
    Step::always(Certificate),
    Step::only_if(ServerKeyExchange, Cond::EcdheSuite),
    Step::always(CertificateRequest),
    Step::always(ServerHelloDone),
];

/// Flight 3: our answer to a full flight 2.
#[rustfmt::skip]
const CLIENT_KEY_EXCHANGE: Flight = Flight::new(FlightName::ClientKeyExchange, &[
    Step::only_if(Certificate, Cond::CertRequested),      // empty when we have none that fits
    Step::always(ClientKeyExchange),
    Step::only_if(CertificateVerify, Cond::ClientCertSent),
    Step::always(ChangeCipherSpec),
    Step::always(Finished),
]);

/// Flight 2 of an abbreviated handshake: the server echoed our session ID (or took our
/// ticket) and finishes first.
#[rustfmt::skip]
const SERVER_RESUMED: &[Step] = &[
    Step::always(ServerHello),
    Step::only_if(NewSessionTicket, Cond::TicketPromised),
    Step::always(ChangeCipherSpec),
    Step::always(Finished),
];

/// Flight 4 of a full handshake.
#[rustfmt::skip]
const SERVER_FINISHED: &[Step] = &[
    Step::only_if(NewSessionTicket, Cond::TicketPromised),
    Step::always(ChangeCipherSpec),
    Step::always(Finished),
];

const CCS_FINISHED: Flight = Flight::new(
    FlightName::ClientResumedFinished,
    &[Step::always(ChangeCipherSpec), Step::always(Finished)],
);

const HELLO_REQUEST: &[Step] = &[Step::always(HelloRequest)];
