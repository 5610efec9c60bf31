//! The two one-line record bodies: Alert (RFC 5246 §7.2) and ChangeCipherSpec (§7.1).

use super::enums::{AlertDescription, AlertLevel};
use super::{Codec, Reader, Writer};
use crate::error::InvalidMessage;

/// An alert record body. Unknown levels and descriptions stay values, so the caller can
/// name what the peer sent before deciding how to treat it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alert {
    pub level: AlertLevel,
    pub description: AlertDescription,
}

impl Alert {
    /// Parses a whole alert record body: exactly two bytes.
    ///
    /// Records may carry several alerts back to back in theory, but no implementation sends
    /// that and accepting it would only widen what we parse, so anything after the first
    /// alert is rejected.
    pub fn read_record(body: &[u8]) -> Result<Alert, InvalidMessage> {
        let mut r = Reader::new(body);
        let alert = Alert::read(&mut r)?;
        r.finish("alert")?;
        Ok(alert)
    }

    /// The record body for this alert.
    pub fn to_bytes(self) -> [u8; 2] {
        [self.level.0, self.description.0]
    }
}

impl Codec for Alert {
    fn encode(&self, w: &mut Writer<'_>) {
        self.level.encode(w);
        self.description.encode(w);
    }

    fn read(r: &mut Reader<'_>) -> Result<Self, InvalidMessage> {
        Ok(Alert {
            level: AlertLevel::read(r)?,
            description: AlertDescription::read(r)?,
        })
    }
}

/// The only ChangeCipherSpec body there is (RFC 5246 §7.1: `enum { change_cipher_spec(1) }`).
const CHANGE_CIPHER_SPEC: u8 = 0x01;

/// The ChangeCipherSpec record body.
pub fn encode_change_cipher_spec() -> [u8; 1] {
    [CHANGE_CIPHER_SPEC]
}

/// Whether `body` is a valid ChangeCipherSpec record body; anything but `[0x01]` is not, and
/// the caller reports `PeerMisbehaved::BadChangeCipherSpec`.
pub fn check_change_cipher_spec(body: &[u8]) -> bool {
    body == [CHANGE_CIPHER_SPEC]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alert_golden_bytes() {
        let bytes = [
            0x02, // level: fatal
            0x28, // description: handshake_failure
        ];
        let alert = Alert::read_record(&bytes).unwrap();
        assert_eq!(
            alert,
            Alert {
                level: AlertLevel::FATAL,
                description: AlertDescription::HANDSHAKE_FAILURE,
            }
        );
        let mut out = Vec::new();
        alert.encode(&mut Writer::new(&mut out));
        assert_eq!(out, bytes);
        assert_eq!(alert.to_bytes(), bytes);
    }

    #[test]
    fn alert_keeps_unknown_codes_and_checks_length() {
        let alert = Alert::read_record(&[0x09, 0xfe]).unwrap();
        assert_eq!(alert.level, AlertLevel(0x09));
        assert_eq!(alert.description, AlertDescription(0xfe));
        assert_eq!(
            Alert::read_record(&[0x02]),
            Err(InvalidMessage::Truncated {
                what: "AlertDescription"
            })
        );
        assert_eq!(
            Alert::read_record(&[0x01, 0x00, 0x01, 0x00]),
            Err(InvalidMessage::TrailingData { what: "alert" })
        );
    }

    #[test]
    fn change_cipher_spec_is_exactly_one_byte_of_one() {
        assert_eq!(encode_change_cipher_spec(), [0x01]);
        assert!(check_change_cipher_spec(&encode_change_cipher_spec()));
        assert!(!check_change_cipher_spec(&[]));
        assert!(!check_change_cipher_spec(&[0x02]));
        assert!(!check_change_cipher_spec(&[0x01, 0x01]));
    }
}
