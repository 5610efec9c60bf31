//! The one question a handshake may have open at a pause point (see `crate::pause`). A
//! handler asks through its [`PauseSlot`]: with the pause point off, the synchronous answer
//! comes back at once; with it on, the question is published and the handler returns
//! `None`, to be called again at the same phase once the application answered.

use std::sync::Arc;

use zeroize::Zeroizing;

use crate::config::CertifiedKey;
use crate::error::ProtocolError;
use crate::event::Event as ConnEvent;
use crate::handshake::driver::Ctx;
use crate::pause::{Answer, CertificateQuery, Pause, SessionLookup, SignRequest};
use crate::trace::TraceEvent;

#[derive(Default)]
pub(crate) struct PauseSlot {
    asked: Option<Pause>,
    answer: Option<Answer>,
}

impl PauseSlot {
    /// The open question, if the handshake waits on one.
    pub(crate) fn asked(&self) -> Option<&Pause> {
        self.asked.as_ref()
    }

    /// The application's answer to the open question, which the caller checked it fits.
    pub(crate) fn answer(&mut self, answer: Answer) {
        self.asked = None;
        self.answer = Some(answer);
    }

    /// The session stored under `id`: from `sync` at once, unless `pause`. `None` while
    /// the application looks it up.
    pub(crate) fn session(
        &mut self,
        ctx: &mut Ctx<'_>,
        pause: bool,
        lookup: SessionLookup,
        sync: impl FnOnce(&SessionLookup) -> Option<Zeroizing<Vec<u8>>>,
    ) -> Result<Option<Option<Zeroizing<Vec<u8>>>>, ProtocolError> {
        if !pause {
            return Ok(Some(sync(&lookup)));
        }
        match self.answer.take() {
            Some(Answer::Session(session)) => Ok(Some(session)),
            Some(_) => Err(ProtocolError::Internal("an answer to another pause")),
            None => {
                self.ask(ctx, Pause::SessionLookup(lookup));
                Ok(None)
            }
        }
    }

    /// The certificate for `query`: from `sync` at once, unless `pause`. `None` while the
    /// application chooses.
    pub(crate) fn certificate(
        &mut self,
        ctx: &mut Ctx<'_>,
        pause: bool,
        query: &CertificateQuery,
        sync: impl FnOnce(&CertificateQuery) -> Option<Arc<CertifiedKey>>,
    ) -> Result<Option<Option<Arc<CertifiedKey>>>, ProtocolError> {
        if !pause {
            return Ok(Some(sync(query)));
        }
        match self.answer.take() {
            Some(Answer::Certificate(certificate)) => Ok(Some(certificate)),
            Some(_) => Err(ProtocolError::Internal("an answer to another pause")),
            None => {
                self.ask(ctx, Pause::Certificate(query.clone()));
                Ok(None)
            }
        }
    }

    /// Puts the signature `request` asks for into `slot`: from the certificate's own key at
    /// once, unless `pause`. False while the application signs; a failed signature is an
    /// internal error naming `what` was signed.
    pub(crate) fn sign_into(
        &mut self,
        ctx: &mut Ctx<'_>,
        pause: bool,
        request: SignRequest,
        slot: &mut Option<Vec<u8>>,
        what: &'static str,
    ) -> Result<bool, ProtocolError> {
        let signature = if !pause {
            let SignRequest {
                certificate,
                scheme,
                message,
            } = request;
            certificate.key.sign(scheme, &message)
        } else {
            match self.answer.take() {
                Some(Answer::Signature(signature)) => signature,
                Some(_) => return Err(ProtocolError::Internal("an answer to another pause")),
                None => {
                    self.ask(ctx, Pause::Sign(request));
                    return Ok(false);
                }
            }
        };
        *slot = Some(signature.map_err(|_| ProtocolError::Internal(what))?);
        Ok(true)
    }

    fn ask(&mut self, ctx: &mut Ctx<'_>, pause: Pause) {
        let kind = pause.kind();
        ctx.trace(|| TraceEvent::Paused { kind });
        ctx.events.push_back(ConnEvent::Paused(kind));
        self.asked = Some(pause);
    }
}
