//! Rows both roles share once the handshake is done: renegotiation refused (RFC 5746 lets us
//! answer with a warning) and the orderly close in both directions.

use crate::codec::enums::AlertDescription;

use super::Msg::*;
use super::{row, Branch, Event, Input, Output, Phase::*, Row, Step};

#[rustfmt::skip]
pub(crate) const CLIENT_COMMON: &[Row] = &[
//      from                  input                                               to                    we send
    row(AppData,              Input::Flight(Branch::Renegotiation, HELLO_REQUEST), AppData,              Output::Alert(AlertDescription::NO_RENEGOTIATION)),
    row(AppData,              Input::Event(Event::CloseNotifyReceived),           Shutdown,             Output::Alert(AlertDescription::CLOSE_NOTIFY)),
    row(AppData,              Input::Event(Event::LocalClose),                    HostInitiatedClosing, Output::Alert(AlertDescription::CLOSE_NOTIFY)),
    row(HostInitiatedClosing, Input::Event(Event::CloseNotifyReceived),           Shutdown,             Output::Nothing),
];

#[rustfmt::skip]
pub(crate) const SERVER_COMMON: &[Row] = &[
//      from                  input                                               to                    we send
    row(AppData,              Input::Flight(Branch::Renegotiation, CLIENT_HELLO), AppData,              Output::Alert(AlertDescription::NO_RENEGOTIATION)),
    row(AppData,              Input::Event(Event::CloseNotifyReceived),           Shutdown,             Output::Alert(AlertDescription::CLOSE_NOTIFY)),
    row(AppData,              Input::Event(Event::LocalClose),                    HostInitiatedClosing, Output::Alert(AlertDescription::CLOSE_NOTIFY)),
    row(HostInitiatedClosing, Input::Event(Event::CloseNotifyReceived),           Shutdown,             Output::Nothing),
];

const HELLO_REQUEST: &[Step] = &[Step::always(HelloRequest)];
const CLIENT_HELLO: &[Step] = &[Step::always(ClientHello)];
