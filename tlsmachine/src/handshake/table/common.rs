//! Rows every role and version shares once the handshake is done: the orderly close in both
//! directions.

use crate::codec::enums::AlertDescription;

use super::{row, Event, Input, Output, Phase::*, Row};

#[rustfmt::skip]
pub(crate) const CLOSING: &[Row] = &[
//      from                  input                                      to                    we send
    row(AppData,              Input::Event(Event::CloseNotifyReceived),  Shutdown,             Output::Alert(AlertDescription::CLOSE_NOTIFY)),
    row(AppData,              Input::Event(Event::LocalClose),           HostInitiatedClosing, Output::Alert(AlertDescription::CLOSE_NOTIFY)),
    row(HostInitiatedClosing, Input::Event(Event::CloseNotifyReceived),  Shutdown,             Output::Nothing),
];
