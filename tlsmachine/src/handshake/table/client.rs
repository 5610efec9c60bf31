//! The client's TLS 1.2 table (ARCHITECTURE.md §2, client rows).

use super::Msg::*;
use super::{row, Branch, Cond, Event, Input, Output, Phase::*, Row, Step};

#[rustfmt::skip]
pub(crate) const CLIENT_TLS12: &[Row] = &[
//      from    input                                              to        we send
    row(Idle,   Input::Event(Event::Start),                        Wait1,    Output::Flight(CLIENT_HELLO)),
    row(Wait1,  Input::Flight(Branch::Full, SERVER_HELLO_FULL),    Wait2,    Output::Flight(CLIENT_KEY_EXCHANGE_FLIGHT)),
    row(Wait1,  Input::Flight(Branch::Resumed, SERVER_RESUMED),    AppData,  Output::Flight(CCS_FINISHED)),
    row(Wait2,  Input::Flight(Branch::Full, SERVER_FINISHED),      AppData,  Output::Nothing),
];

/// Flight 1: ClientHello, carrying a cached session ID or ticket when we have one.
const CLIENT_HELLO: &[Step] = &[Step::always(ClientHello)];

/// Flight 2 of a full handshake.
#[rustfmt::skip]
const SERVER_HELLO_FULL: &[Step] = &[
    Step::always(ServerHello),
    Step::always(Certificate),                             // no anonymous suites
    Step::only_if(ServerKeyExchange, Cond::EcdheSuite),
    Step::peer_may_omit(CertificateRequest),
    Step::always(ServerHelloDone),
];

/// Flight 3: our answer to a full flight 2.
#[rustfmt::skip]
const CLIENT_KEY_EXCHANGE_FLIGHT: &[Step] = &[
    Step::only_if(Certificate, Cond::CertRequested),      // empty when we have none that fits
    Step::always(ClientKeyExchange),
    Step::only_if(CertificateVerify, Cond::ClientCertSent),
    Step::always(ChangeCipherSpec),
    Step::always(Finished),
];

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

const CCS_FINISHED: &[Step] = &[Step::always(ChangeCipherSpec), Step::always(Finished)];
