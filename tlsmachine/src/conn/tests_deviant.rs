//! Deviant flights generated from the declared tables (issue 10, part 3): the SMACK method
//! (Beurdouche et al., "A Messy State of the Union", 2015), made exhaustive by our tables.
//!
//! Real handshakes between our client and server give the valid flights, in configurations
//! that between them send every optional message: client certificates required and optional,
//! HelloRetryRequest, TLS 1.2 resumption by session ID and by ticket, TLS 1.3 PSK and 0-RTT,
//! tickets, KeyUpdate, and application data once the handshake is done. From each flight the
//! test derives every trace that skips, repeats, swaps or moves one of its records, and every
//! trace that injects a ChangeCipherSpec, a warning alert, a close_notify, a fatal alert,
//! application data, a heartbeat or a record of unknown type at one position.
//!
//! A trace goes to the real receiver one record per message, each protected as the receiver
//! reads at that moment (keys rebuilt from the key log), and before each record a model of
//! the receiver predicts what must happen. Handshake messages and ChangeCipherSpec go through
//! the receiver's table with the driver's own functions (`advance`, `expected_at`,
//! `flight_complete`), so a refusal names exactly the `expected` list the table implies; a
//! CertificateVerify or Finished taken after other messages than in the valid flight fails
//! its transcript check; the other records follow the record layer's rules (RFC 8446 §5 and
//! §6, RFC 5246 §7.2). The test asserts, record by record: a taken record leaves the receiver
//! in the phase the table leads to; a refused one gives exactly `Error::Protocol { error,
//! sent }`, and the sender, fed the receiver's answer, takes what came before the alert and
//! then reports `Error::AlertReceived` with it (or, for close_notify, closes as its own table
//! says); an injected alert ends or closes the receiver as its level and the version say.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use super::tests::{handshake, records, CaptureKeys, Fixture};
use super::tests13_hostile::{
    client_auth_configs, connect_with, plain_record, retry_configs, split_messages, Keys,
};
use super::*;
use crate::codec::enums::{CipherSuite, HandshakeType, ProtocolVersion};
use crate::config::{ClientAuth, ClientConfig, ServerConfig};
use crate::crypto::prf::MasterSecret;
use crate::error::{InvalidMessage, PeerMisbehaved};
use crate::handshake::driver::{
    advance, expected_at, flight_branch, flight_complete, flight_steps, Advance,
};
use crate::handshake::keys;
use crate::handshake::table::{Branch, Cond, Input, Row, Table};
use crate::handshake::Msg;
use crate::pki::KeyType;
use crate::record::{Opener, Sealer};
use crate::session::{AntiReplay, ClientSessionCache, MemoryStore, DEFAULT_LIFETIME};

const HANDSHAKE: u8 = ContentType::HANDSHAKE.0;
const CCS: u8 = ContentType::CHANGE_CIPHER_SPEC.0;
const ALERT: u8 = ContentType::ALERT.0;
const APPLICATION_DATA: u8 = ContentType::APPLICATION_DATA.0;
/// RFC 6520: heartbeat records, which we do not implement.
const HEARTBEAT: u8 = 24;
/// A content type no RFC assigns.
const UNKNOWN: u8 = 99;

// --- scenarios ------------------------------------------------------------------------------

/// A configuration whose handshake sends some optional message, and the choices its handlers
/// make where the table leaves one open.
struct Scenario {
    name: &'static str,
    version: Version,
    client: ClientConfig,
    server: ServerConfig,
    /// A full handshake comes first, so that this one resumes: the hello handlers choose the
    /// resumed branch and the server's session lookup finds the session.
    resumes: bool,
    /// The server asks for another key share: its first ClientHello handler chooses the
    /// HelloRetryRequest branch.
    retries: bool,
    /// TLS 1.3 0-RTT data the client sends behind its ClientHello.
    early_data: &'static [u8],
    /// What happens once the handshake is quiet, each step giving one more flight.
    then: &'static [Then],
}

#[derive(Clone, Copy, Debug)]
enum Then {
    /// The server updates its keys and asks the client to update its own.
    UpdateKeys,
    ClientWrites,
    ServerWrites,
}

const DATA: &[Then] = &[Then::ClientWrites, Then::ServerWrites];

fn scenarios(fx: &Fixture) -> Vec<Scenario> {
    let scenario = |name, version, client, server| Scenario {
        name,
        version,
        client,
        server,
        resumes: false,
        retries: false,
        early_data: &[],
        then: DATA,
    };
    let optional_auth = || {
        let mut server = fx.server_config();
        server.client_auth = ClientAuth::Optional(fx.pki.trust_store().unwrap());
        server
    };
    let tls12 = |mut client: ClientConfig| {
        client.versions = vec![Version::Tls12];
        client
    };
    let mut out = Vec::new();

    // TLS 1.2: a ticket in flight 4; a client certificate with CertificateVerify and no
    // ticket; an empty client Certificate; both ways of resuming.
    out.push(scenario(
        "full handshake, ticket",
        Version::Tls12,
        fx.client_config(),
        fx.server_config(),
    ));
    let (client, server) = client_auth_configs(fx);
    let mut client = tls12(client);
    client.enable_tickets = false;
    out.push(scenario(
        "client certificate required, no ticket",
        Version::Tls12,
        client,
        server,
    ));
    out.push(scenario(
        "client certificate optional, none sent",
        Version::Tls12,
        fx.client_config(),
        optional_auth(),
    ));
    let mut client = fx.client_config();
    client.enable_tickets = false;
    out.push(Scenario {
        resumes: true,
        ..scenario(
            "resumed by session ID",
            Version::Tls12,
            client,
            fx.server_config(),
        )
    });
    let mut server = fx.server_config();
    server.session_store = None;
    out.push(Scenario {
        resumes: true,
        ..scenario(
            "resumed by ticket",
            Version::Tls12,
            fx.client_config(),
            server,
        )
    });

    // TLS 1.3: tickets and KeyUpdate after a full handshake; client certificates; a
    // HelloRetryRequest; PSK with and without 0-RTT data.
    out.push(Scenario {
        then: &[Then::UpdateKeys, Then::ClientWrites, Then::ServerWrites],
        ..scenario(
            "full handshake, tickets, KeyUpdate",
            Version::Tls13,
            fx.client_config13(),
            fx.server_config(),
        )
    });
    let (client, server) = client_auth_configs(fx);
    out.push(scenario(
        "client certificate required",
        Version::Tls13,
        client,
        server,
    ));
    out.push(scenario(
        "client certificate optional, none sent",
        Version::Tls13,
        fx.client_config13(),
        optional_auth(),
    ));
    let (client, server) = retry_configs(fx);
    out.push(Scenario {
        retries: true,
        ..scenario("HelloRetryRequest", Version::Tls13, client, server)
    });
    out.push(Scenario {
        resumes: true,
        ..scenario(
            "PSK",
            Version::Tls13,
            fx.client_config13(),
            fx.server_config(),
        )
    });
    let mut client = fx.client_config13();
    client.enable_early_data = true;
    let mut server = fx.server_config();
    server.max_early_data_size = 1024;
    out.push(Scenario {
        resumes: true,
        early_data: b"early data",
        ..scenario("PSK with 0-RTT data", Version::Tls13, client, server)
    });
    out
}

// --- a run: one connection pair through a scenario, flight by flight -----------------------

struct Run {
    client: Connection,
    server: Connection,
    log: Arc<CaptureKeys>,
    /// The suite of the session resumed, known before the server reads the ClientHello.
    resumed_suite: Option<CipherSuite>,
    client_turn: bool,
    then: std::slice::Iter<'static, Then>,
}

impl Run {
    fn start(scenario: &Scenario) -> Self {
        let log = Arc::new(CaptureKeys::default());
        // Session state is the run's own: a refused handshake drops its session, and the next
        // run must still resume.
        let mut client = scenario.client.clone();
        client.key_log = Some(log.clone());
        client.session_cache = Some(Arc::new(ClientSessionCache::new(4)));
        let mut server = scenario.server.clone();
        server.key_log = Some(log.clone());
        if server.session_store.is_some() {
            server.session_store = Some(Arc::new(MemoryStore::new(16, DEFAULT_LIFETIME)));
        }
        server.anti_replay = Arc::new(AntiReplay::default());
        let (client, server) = (Arc::new(client), Arc::new(server));
        let mut resumed_suite = None;
        if scenario.resumes {
            let (mut c, mut s) = connect_with(&client, &server);
            handshake(&mut c, &mut s).unwrap();
            resumed_suite = s.negotiated().cipher_suite;
            log.clear();
        }
        let (mut c, s) = connect_with(&client, &server);
        if !scenario.early_data.is_empty() {
            let n = c.write_early_data(scenario.early_data).unwrap();
            assert_eq!(n, scenario.early_data.len());
        }
        Run {
            client: c,
            server: s,
            log,
            resumed_suite,
            client_turn: true,
            then: scenario.then.iter(),
        }
    }

    /// The next flight: whether it goes to the client, and its bytes as the sender wrote
    /// them. `None` once the scenario has nothing more to say.
    fn next_flight(&mut self) -> Option<(bool, Vec<u8>)> {
        loop {
            for _ in 0..2 {
                let from_client = self.client_turn;
                self.client_turn = !from_client;
                let wire = self.connection_mut(from_client).take_outgoing();
                if !wire.is_empty() {
                    return Some((!from_client, wire));
                }
            }
            match self.then.next()? {
                Then::UpdateKeys => self.server.update_keys(true).unwrap(),
                Then::ClientWrites => self.client.write_data(b"ping").unwrap(),
                Then::ServerWrites => self.server.write_data(b"pong").unwrap(),
            }
        }
    }

    fn connection(&self, client: bool) -> &Connection {
        match client {
            true => &self.client,
            false => &self.server,
        }
    }

    fn connection_mut(&mut self, client: bool) -> &mut Connection {
        match client {
            true => &mut self.client,
            false => &mut self.server,
        }
    }

    fn suite(&self) -> Option<CipherSuite> {
        self.server.negotiated().cipher_suite.or(self.resumed_suite)
    }
}

// --- record protection, rebuilt from the key log -------------------------------------------

/// The keys a record travels under, named as the key log names their secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Epoch {
    Clear,
    /// TLS 1.2, after the sender's ChangeCipherSpec.
    Tls12,
    /// TLS 1.3: a traffic secret, and the KeyUpdates since.
    Tls13(&'static str, u8),
}

const CLIENT_SECRETS: [&str; 3] = [
    "CLIENT_EARLY_TRAFFIC_SECRET",
    "CLIENT_HANDSHAKE_TRAFFIC_SECRET",
    "CLIENT_TRAFFIC_SECRET_0",
];
const SERVER_SECRETS: [&str; 2] = ["SERVER_HANDSHAKE_TRAFFIC_SECRET", "SERVER_TRAFFIC_SECRET_0"];
/// While a server reads with these keys, application data is 0-RTT data.
const EARLY: Epoch = Epoch::Tls13("CLIENT_EARLY_TRAFFIC_SECRET", 0);

enum RecordKeys {
    Tls12 { sealer: Sealer, opener: Opener },
    Tls13 { keys: Keys, opener: Opener },
}

impl RecordKeys {
    fn tls13(keys: Keys) -> Self {
        RecordKeys::Tls13 {
            opener: keys.opener(),
            keys,
        }
    }

    /// The inner type and content of a record, if these keys sealed it at `seq`.
    fn open(&self, seq: u64, header: &[u8], body: &[u8]) -> Option<(u8, Vec<u8>)> {
        let (RecordKeys::Tls12 { opener, .. } | RecordKeys::Tls13 { opener, .. }) = self;
        let mut body = body.to_vec();
        let version = ProtocolVersion(u16::from_be_bytes([header[1], header[2]]));
        let opened = opener
            .open(seq, ContentType(header[0]), version, &mut body)
            .ok()?;
        Some((opened.typ.0, body[opened.range].to_vec()))
    }

    fn seal(&self, seq: u64, typ: u8, content: &[u8]) -> Vec<u8> {
        match self {
            RecordKeys::Tls12 { sealer, .. } => {
                let mut out = vec![0; sealer.record_len(content.len())];
                sealer
                    .seal_into(seq, ContentType(typ), content, &mut out)
                    .unwrap();
                out
            }
            RecordKeys::Tls13 { keys, .. } => keys.seal(seq, typ, content),
        }
    }
}

/// Every key one side has sent with (or will send with) in a run, as far as the key log
/// knows them.
struct SenderKeys(Vec<(Epoch, RecordKeys)>);

impl SenderKeys {
    fn new(run: &Run, version: Version, from_client: bool) -> Self {
        let mut keys = Vec::new();
        let Some(suite) = run.suite() else {
            return SenderKeys(keys);
        };
        match version {
            Version::Tls12 => {
                if let Some(ms) = run.log.find("CLIENT_RANDOM") {
                    let suite = crate::crypto::suites::lookup(suite)
                        .and_then(|s| s.tls12())
                        .unwrap();
                    let ms = MasterSecret::from_slice(&ms).unwrap();
                    let n = run.server.negotiated();
                    let (cr, sr) = (n.client_random.unwrap(), n.server_random.unwrap());
                    let derive = |we_are_client| {
                        keys::derive(suite, &ms, &cr, &sr, we_are_client, &None).unwrap()
                    };
                    keys.push((
                        Epoch::Tls12,
                        RecordKeys::Tls12 {
                            sealer: derive(from_client).write.unwrap(),
                            opener: derive(!from_client).read.unwrap(),
                        },
                    ));
                }
            }
            Version::Tls13 => {
                let labels: &[&'static str] = match from_client {
                    true => &CLIENT_SECRETS,
                    false => &SERVER_SECRETS,
                };
                for &label in labels {
                    if run.log.find(label).is_none() {
                        continue;
                    }
                    let secret = Keys::with_suite(suite, &run.log, label);
                    // One KeyUpdate each way is as far as the scenarios go.
                    if label.ends_with("TRAFFIC_SECRET_0") {
                        keys.push((Epoch::Tls13(label, 1), RecordKeys::tls13(secret.next())));
                    }
                    keys.push((Epoch::Tls13(label, 0), RecordKeys::tls13(secret)));
                }
            }
        }
        SenderKeys(keys)
    }

    fn get(&self, epoch: Epoch) -> Option<&RecordKeys> {
        let (_, keys) = self.0.iter().find(|(e, _)| *e == epoch)?;
        Some(keys)
    }
}

// --- items: the records of a trace -----------------------------------------------------------

/// One handshake message, or one record of another type.
#[derive(Clone, Debug)]
struct Item {
    typ: u8,
    content: Vec<u8>,
    /// The keys it came under in the valid flight.
    epoch: Epoch,
}

impl Item {
    /// What the tables call it: a handshake message or ChangeCipherSpec.
    fn msg(&self) -> Option<Msg> {
        match self.typ {
            HANDSHAKE => {
                let received = Received::Handshake {
                    typ: HandshakeType(self.content[0]),
                    raw: self.content.clone(),
                };
                Some(received.kind().unwrap())
            }
            CCS => Some(Msg::ChangeCipherSpec),
            _ => None,
        }
    }

    /// A TLS 1.3 ChangeCipherSpec: in the clear whatever the keys, and it changes none.
    fn is_compat_ccs(&self, version: Version) -> bool {
        version == Version::Tls13 && self.typ == CCS
    }
}

/// Splits a flight as its sender wrote it into items. Protected records are opened with
/// whichever of `keys` opens them at its next sequence number in `seqs`.
fn open_flight(
    wire: &[u8],
    keys: &SenderKeys,
    version: Version,
    seqs: &mut HashMap<Epoch, u64>,
) -> Vec<Item> {
    let mut items = Vec::new();
    for (typ, range) in records(wire) {
        let (header, body) = wire[range].split_at(5);
        // TLS 1.3 protects only what travels as application_data; TLS 1.2 everything after
        // the sender's ChangeCipherSpec, which itself is in the clear.
        let maybe_protected = match version {
            Version::Tls12 => typ != CCS,
            Version::Tls13 => typ == APPLICATION_DATA,
        };
        let opened = keys
            .0
            .iter()
            .filter(|_| maybe_protected)
            .find_map(|(epoch, k)| {
                let seq = seqs.get(epoch).copied().unwrap_or(0);
                k.open(seq, header, body).map(|opened| (*epoch, opened))
            });
        let (epoch, (typ, content)) = match opened {
            Some((epoch, opened)) => {
                *seqs.entry(epoch).or_default() += 1;
                (epoch, opened)
            }
            None => (Epoch::Clear, (typ, body.to_vec())),
        };
        match typ {
            HANDSHAKE => items.extend(split_messages(&content).into_iter().map(|content| Item {
                typ,
                content,
                epoch,
            })),
            _ => items.push(Item {
                typ,
                content,
                epoch,
            }),
        }
    }
    items
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Injection {
    ChangeCipherSpec,
    /// no_renegotiation, the warning RFC 5746 has a peer send.
    Warning,
    CloseNotify,
    /// handshake_failure.
    Fatal,
    ApplicationData,
    Heartbeat,
    UnknownType,
}

impl Injection {
    const ALL: [Injection; 7] = [
        Injection::ChangeCipherSpec,
        Injection::Warning,
        Injection::CloseNotify,
        Injection::Fatal,
        Injection::ApplicationData,
        Injection::Heartbeat,
        Injection::UnknownType,
    ];

    fn item(self) -> Item {
        let alert = |level, description| Alert { level, description }.to_bytes().to_vec();
        let (typ, content) = match self {
            Injection::ChangeCipherSpec => (CCS, vec![0x01]),
            Injection::Warning => (
                ALERT,
                alert(AlertLevel::WARNING, AlertDescription::NO_RENEGOTIATION),
            ),
            Injection::CloseNotify => (
                ALERT,
                alert(AlertLevel::WARNING, AlertDescription::CLOSE_NOTIFY),
            ),
            Injection::Fatal => (
                ALERT,
                alert(AlertLevel::FATAL, AlertDescription::HANDSHAKE_FAILURE),
            ),
            Injection::ApplicationData => (APPLICATION_DATA, b"deviant".to_vec()),
            // heartbeat_request, payload_length 3, "abc", 16 bytes of padding.
            Injection::Heartbeat => (
                HEARTBEAT,
                [&[0x01, 0x00, 0x03][..], b"abc", &[0; 16]].concat(),
            ),
            Injection::UnknownType => (UNKNOWN, vec![0x2a]),
        };
        // No keys of its own: a trace seals it as the receiver reads at its position.
        Item {
            typ,
            content,
            epoch: Epoch::Clear,
        }
    }
}

// --- deviations -----------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Deviation {
    Skip,
    Repeat,
    Swap,
    Move,
    Inject(Injection),
}

/// A record of a trace: one of the valid flight's, or an injected one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum ItemId {
    Valid(usize),
    Injected(Injection),
}

/// Every trace one deviation away from a valid flight of `n` records, each once: a trace two
/// deviations produce alike (a move by one is a swap) counts under the first.
fn deviations(n: usize) -> Vec<(Deviation, Vec<ItemId>)> {
    let valid: Vec<ItemId> = (0..n).map(ItemId::Valid).collect();
    let mut seen = HashSet::from([valid.clone()]);
    let mut out = Vec::new();
    let mut add = |deviation, trace: Vec<ItemId>| {
        if !trace.is_empty() && seen.insert(trace.clone()) {
            out.push((deviation, trace));
        }
    };
    for i in 0..n {
        let mut trace = valid.clone();
        trace.remove(i);
        add(Deviation::Skip, trace);
    }
    for i in 0..n {
        let mut trace = valid.clone();
        trace.insert(i, valid[i]);
        add(Deviation::Repeat, trace);
    }
    for i in 1..n {
        let mut trace = valid.clone();
        trace.swap(i - 1, i);
        add(Deviation::Swap, trace);
    }
    for i in 0..n {
        for to in (0..n).filter(|to| *to != i) {
            let mut trace = valid.clone();
            let item = trace.remove(i);
            trace.insert(to, item);
            add(Deviation::Move, trace);
        }
    }
    for injection in Injection::ALL {
        for at in 0..=n {
            let mut trace = valid.clone();
            trace.insert(at, ItemId::Injected(injection));
            add(Deviation::Inject(injection), trace);
        }
    }
    out
}

// --- the model: where the receiver's table says it is ------------------------------------------

/// The receiver as its table sees it: the phase, and the rows whose flight is under way. It
/// follows the driver (`Driver::on_message`) step by step, with the driver's functions.
#[derive(Clone)]
struct Model {
    client: bool,
    /// The tables of the versions the receiver enabled, before the hellos settle one.
    enabled: Vec<&'static Table>,
    resumes: bool,
    retries: bool,
    phase: Phase,
    progress: Vec<(&'static Row, usize)>,
    /// A HelloRetryRequest row was taken.
    retried: bool,
}

impl Model {
    /// The model of a receiver in `phase`, the one it starts a run in (a client has sent its
    /// ClientHello).
    fn new(client: bool, scenario: &Scenario, phase: Phase) -> Self {
        let versions = match client {
            true => scenario.client.enabled_versions(),
            false => scenario.server.enabled_versions(),
        };
        Model {
            client,
            enabled: enabled_tables(client, versions).unwrap(),
            resumes: scenario.resumes,
            retries: scenario.retries,
            phase,
            progress: Vec::new(),
            retried: false,
        }
    }

    fn rows(&self, version: Option<Version>) -> Vec<&'static Row> {
        let tables = match version {
            Some(v) => vec![table::table(self.client, v)],
            None => self.enabled.clone(),
        };
        tables.into_iter().flat_map(Table::all_rows).collect()
    }

    /// What the driver decides before any handler sees `got`: the rows it continues, or the
    /// refusal naming what the table expected instead.
    fn offer(
        &self,
        got: Msg,
        version: Option<Version>,
        cond: &dyn Fn(Cond) -> bool,
    ) -> Result<Vec<(&'static Row, Advance)>, ProtocolError> {
        let candidates: Vec<(&'static Row, usize)> = match self.progress.is_empty() {
            false => self.progress.clone(),
            true => self
                .rows(version)
                .into_iter()
                .filter(|r| r.from == self.phase && matches!(r.input, Input::Flight(..)))
                .map(|r| (r, 0))
                .collect(),
        };
        let matching: Vec<(&'static Row, Advance)> = candidates
            .iter()
            .filter_map(|&(row, pos)| advance(flight_steps(row), pos, got, cond).map(|a| (row, a)))
            .collect();
        if matching.is_empty() {
            let mut expected: Vec<Msg> = candidates
                .iter()
                .flat_map(|&(row, pos)| expected_at(flight_steps(row), pos, cond))
                .collect();
            expected.sort();
            expected.dedup();
            return Err(ProtocolError::Unexpected {
                phase: self.phase,
                expected,
                got,
            });
        }
        Ok(matching)
    }

    /// What the driver does once the handler took `got`: keep the rows of the version the
    /// hellos settled and of the branch the handler chose, and take the row whose flight is
    /// complete. Returns the rows taken.
    fn accept(
        &mut self,
        got: Msg,
        mut matching: Vec<(&'static Row, Advance)>,
        (before, after): (Option<Version>, Option<Version>),
        cond: &dyn Fn(Cond) -> bool,
    ) -> Vec<&'static Row> {
        if let (None, Some(version)) = (before, after) {
            let chosen = table::table(self.client, version);
            matching.retain(|(row, _)| chosen.all_rows().any(|r| core::ptr::eq(r, *row)));
        }
        let branches: HashSet<Branch> = matching
            .iter()
            .filter_map(|(r, _)| flight_branch(r))
            .collect();
        if branches.len() > 1 {
            let chosen = self.branch_chosen_by_handler(got);
            matching.retain(|(row, _)| flight_branch(row) == Some(chosen));
        }
        if let [(row, step)] = matching.as_slice() {
            if flight_complete(flight_steps(row), step.next, cond) {
                self.progress.clear();
                return self.take_row(row, after);
            }
        }
        assert!(
            matching
                .iter()
                .all(|(row, a)| !flight_complete(flight_steps(row), a.next, cond)),
            "the table leaves two complete flights to choose from"
        );
        self.progress = matching.iter().map(|(row, a)| (*row, a.next)).collect();
        Vec::new()
    }

    /// The branch the handler of a hello chooses where two rows leave a phase: what the
    /// scenario set up (a session to resume, a key share the server cannot use).
    fn branch_chosen_by_handler(&self, got: Msg) -> Branch {
        match got {
            Msg::HelloRetryRequest => Branch::Retry,
            Msg::ServerHello if self.resumes => Branch::Resumed,
            Msg::ClientHello if self.retries && !self.retried => Branch::Retry,
            _ => Branch::Full,
        }
    }

    /// Takes `row`, then the rows of the events the handshake raises by itself at its pause
    /// points (none is configured to stop).
    fn take_row(&mut self, row: &'static Row, version: Option<Version>) -> Vec<&'static Row> {
        let mut taken = vec![row];
        let mut row = row;
        loop {
            self.phase = row.to;
            self.retried |= flight_branch(row) == Some(Branch::Retry);
            let next: Vec<&'static Row> = self
                .rows(version)
                .into_iter()
                .filter(|r| r.from == self.phase)
                .filter(|r| matches!(r.input, Input::Event(e) if raised_by_handshake(e)))
                .collect();
            row = match next.as_slice() {
                [] => return taken,
                [only] => only,
                several => {
                    let found = match self.resumes {
                        true => TableEvent::SessionFound,
                        false => TableEvent::SessionAbsent,
                    };
                    several
                        .iter()
                        .find(|r| r.input == Input::Event(found))
                        .unwrap()
                }
            };
            taken.push(row);
        }
    }

    fn allows(&self, event: TableEvent, version: Option<Version>) -> bool {
        self.rows(version)
            .iter()
            .any(|r| r.from == self.phase && r.input == Input::Event(event))
    }
}

/// Whether the handshake raises `event` itself when no pause is configured: its own answers
/// at the pause points.
fn raised_by_handshake(event: TableEvent) -> bool {
    match event {
        TableEvent::SessionFound
        | TableEvent::SessionAbsent
        | TableEvent::CertificateChosen
        | TableEvent::Signed => true,
        TableEvent::Start
        | TableEvent::LocalClose
        | TableEvent::CloseNotifyReceived
        | TableEvent::LocalKeyUpdate => false,
    }
}

// --- the plan: a scenario's valid flights --------------------------------------------------------

/// A valid flight, and what the receiver had as it started.
struct FlightPlan {
    to_client: bool,
    items: Vec<Item>,
    /// The receiver's model: a flight may end inside a row (a 0-RTT ClientHello's
    /// ChangeCipherSpec starts the client's next one).
    model: Model,
    /// The receiver's next read sequence number under each key.
    seqs: HashMap<Epoch, u64>,
    /// How many messages of each kind the receiver took before.
    taken: HashMap<Msg, usize>,
    /// The keys the receiver reads with.
    epoch: Epoch,
}

/// A scenario's valid flights, from a run that delivers each one record per message and
/// checks the model on every record.
struct Plan<'s> {
    scenario: &'s Scenario,
    flights: Vec<FlightPlan>,
    /// The keys a receiver reads with after taking its nth message of a kind, keyed by
    /// (receiver is the client, kind, n): seen in the valid run, where the next record came.
    keys_after: HashMap<(bool, Msg, usize), Epoch>,
}

impl<'s> Plan<'s> {
    fn new(scenario: &'s Scenario) -> Self {
        let version = scenario.version;
        let mut run = Run::start(scenario);
        let mut models = [
            Model::new(false, scenario, run.server.state()),
            Model::new(true, scenario, run.client.state()),
        ];
        let mut seqs: [HashMap<Epoch, u64>; 2] = Default::default();
        // This run delivers each flight one record per message, so its receivers count
        // other sequence numbers than a trace's, which get the flights before as sent.
        let mut sealed: [HashMap<Epoch, u64>; 2] = Default::default();
        let mut taken: [HashMap<Msg, usize>; 2] = Default::default();
        let mut streams: [Vec<Item>; 2] = Default::default();
        let mut flights = Vec::new();
        while let Some((to_client, wire)) = run.next_flight() {
            let r = usize::from(to_client);
            let keys = SenderKeys::new(&run, version, !to_client);
            let start_seqs = seqs[r].clone();
            let items = open_flight(&wire, &keys, version, &mut seqs[r]);
            let plan = FlightPlan {
                to_client,
                epoch: items
                    .iter()
                    .find(|i| !i.is_compat_ccs(version))
                    .unwrap()
                    .epoch,
                model: models[r].clone(),
                seqs: start_seqs,
                taken: taken[r].clone(),
                items,
            };
            let context = format!(
                "{version} {}: valid flight {}",
                scenario.name,
                flights.len()
            );
            let seqs = sealed[r].clone();
            let mut lockstep = Lockstep::new(&plan, version, keys, None, seqs, &context);
            for (i, item) in plan.items.iter().enumerate() {
                let fed = lockstep.feed(&mut run, ItemId::Valid(i), item);
                assert!(matches!(fed, Fed::Next), "{context}: {fed:?}");
            }
            models[r] = lockstep.model;
            sealed[r] = lockstep.seqs;
            taken[r] = lockstep.taken;
            streams[r].extend(plan.items.iter().cloned());
            flights.push(plan);
        }
        assert_eq!(run.client.state(), Phase::AppData, "{}", scenario.name);
        assert_eq!(run.server.state(), Phase::AppData, "{}", scenario.name);
        assert_eq!(run.server.negotiated().resumed, scenario.resumes);
        assert_eq!(run.client.version(), Some(version));
        Plan {
            scenario,
            flights,
            keys_after: keys_after(&streams, version),
        }
    }
}

/// For each receiver's stream of valid records: after its nth message of a kind, the keys of
/// the next record. A TLS 1.3 ChangeCipherSpec changes no keys and travels in the clear, so
/// it is passed over.
fn keys_after(streams: &[Vec<Item>; 2], version: Version) -> HashMap<(bool, Msg, usize), Epoch> {
    let mut out = HashMap::new();
    for (r, stream) in streams.iter().enumerate() {
        let keyed: Vec<&Item> = stream
            .iter()
            .filter(|i| !i.is_compat_ccs(version))
            .collect();
        let mut count: HashMap<Msg, usize> = HashMap::new();
        for (i, item) in keyed.iter().enumerate() {
            let (Some(msg), Some(next)) = (item.msg(), keyed.get(i + 1)) else {
                continue;
            };
            let n = count.entry(msg).or_default();
            *n += 1;
            let known = out.insert((r == 1, msg, *n), next.epoch);
            assert!(known.is_none_or(|e| e == next.epoch));
        }
    }
    out
}

// --- lockstep: a trace fed to the receiver record by record -------------------------------------

/// What the receiver must do with one record.
enum Expect {
    /// The table takes the message on these rows; the model follows once the handler has
    /// run.
    Taken(Msg, Vec<(&'static Row, Advance)>),
    /// Nothing changes: a warning, data where data may come, a ChangeCipherSpec the table
    /// allows.
    Ignored,
    Refused(ProtocolError),
    /// The peer's alert ends the connection.
    Ended(AlertDescription),
    /// close_notify in APP_DATA: the orderly close.
    Closed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// Every record was taken: the handshake goes on (or waits for the rest of a flight).
    GoesOn,
    Refused(AlertDescription),
    AlertReceived(AlertDescription),
    Closed,
}

#[derive(Debug)]
enum Fed {
    Next,
    Over(Outcome),
}

struct Lockstep<'p> {
    plan: &'p FlightPlan,
    version: Version,
    /// The sender's keys, as far as the key log knows them.
    keys: SenderKeys,
    model: Model,
    /// Where a record's keys come from: `None` for a valid flight, which keeps each record's
    /// own; otherwise the keys the receiver reads with after each message, from the plan.
    keys_after: Option<&'p HashMap<(bool, Msg, usize), Epoch>>,
    epoch: Epoch,
    seqs: HashMap<Epoch, u64>,
    taken: HashMap<Msg, usize>,
    /// The valid flight's handshake messages the receiver took, by index.
    accepted: Vec<usize>,
    /// The receiver answered a flight other than the valid one: the sender may well refuse
    /// that answer before it reaches ours.
    divergent: bool,
    context: &'p str,
}

impl<'p> Lockstep<'p> {
    fn new(
        plan: &'p FlightPlan,
        version: Version,
        keys: SenderKeys,
        keys_after: Option<&'p HashMap<(bool, Msg, usize), Epoch>>,
        seqs: HashMap<Epoch, u64>,
        context: &'p str,
    ) -> Self {
        Lockstep {
            plan,
            version,
            keys,
            model: plan.model.clone(),
            keys_after,
            epoch: plan.epoch,
            seqs,
            taken: plan.taken.clone(),
            accepted: Vec::new(),
            divergent: false,
            context,
        }
    }

    fn feed(&mut self, run: &mut Run, id: ItemId, item: &Item) -> Fed {
        let context = format!("{}: {id:?}", self.context);
        let receiver = run.connection(self.plan.to_client);
        assert_eq!(receiver.state(), self.model.phase, "{context}");
        let version = receiver.version();
        let expect = self.predict(receiver, id, item, version);
        let wire = self.seal(run, item);
        let receiver = run.connection_mut(self.plan.to_client);
        let result = receiver.receive_data(&wire);
        match expect {
            Expect::Taken(msg, matching) => {
                assert_eq!(result, Ok(()), "{context}");
                let cond = |c| receiver.hs.cond(c);
                let rows = self
                    .model
                    .accept(msg, matching, (version, receiver.version()), &cond);
                assert_eq!(receiver.state(), self.model.phase, "{context}");
                self.taken_message(id, item, msg, &rows);
                Fed::Next
            }
            Expect::Ignored => {
                assert_eq!(result, Ok(()), "{context}");
                assert_eq!(receiver.state(), self.model.phase, "{context}");
                Fed::Next
            }
            Expect::Refused(error) => {
                let alert = error.alert();
                let sent = Some(alert);
                assert_eq!(result, Err(Error::Protocol { error, sent }), "{context}");
                assert_eq!(receiver.state(), Phase::Shutdown, "{context}");
                self.sender_gets_alert(run, alert, &context);
                Fed::Over(Outcome::Refused(alert))
            }
            Expect::Ended(alert) => {
                assert_eq!(result, Err(Error::AlertReceived { alert }), "{context}");
                assert_eq!(receiver.state(), Phase::Shutdown, "{context}");
                //= https://www.rfc-editor.org/rfc/rfc5246#section-7.2.1
                //# The other party MUST respond with a close_notify alert of its own
                //# and close down the connection immediately, discarding any pending
                //# writes.
                match alert == AlertDescription::CLOSE_NOTIFY {
                    true => self.sender_gets_alert(run, alert, &context),
                    false => self.sender_gets_answer(run, &context),
                }
                Fed::Over(Outcome::AlertReceived(alert))
            }
            Expect::Closed => {
                assert_eq!(result, Ok(()), "{context}");
                assert_eq!(receiver.state(), Phase::Shutdown, "{context}");
                assert!(receiver.peer_closed(), "{context}");
                self.sender_gets_alert(run, AlertDescription::CLOSE_NOTIFY, &context);
                Fed::Over(Outcome::Closed)
            }
        }
    }

    /// The receiver took every record of the trace.
    fn finish(&self, run: &mut Run) -> Outcome {
        self.sender_gets_answer(run, self.context);
        Outcome::GoesOn
    }

    fn predict(
        &self,
        receiver: &Connection,
        id: ItemId,
        item: &Item,
        version: Option<Version>,
    ) -> Expect {
        let cond = |c| receiver.hs.cond(c);
        match item.typ {
            HANDSHAKE | CCS => {
                let msg = item.msg().unwrap();
                let matching = match self.model.offer(msg, version, &cond) {
                    Ok(matching) => matching,
                    Err(refused) => return Expect::Refused(refused),
                };
                match self.handler_error(id, msg) {
                    Some(error) => Expect::Refused(error.into()),
                    None => Expect::Taken(msg, matching),
                }
            }
            ALERT => {
                let Alert { level, description } = Alert::read_record(&item.content).unwrap();
                //= https://www.rfc-editor.org/rfc/rfc8446#section-6
                //# All the alerts listed in Section 6.2 MUST be sent with
                //# AlertLevel=fatal and MUST be treated as error alerts when received
                //# regardless of the AlertLevel in the message.
                let closure = description == AlertDescription::CLOSE_NOTIFY
                    || description == AlertDescription::USER_CANCELED;
                if level == AlertLevel::FATAL || (version == Some(Version::Tls13) && !closure) {
                    return Expect::Ended(description);
                }
                if description != AlertDescription::CLOSE_NOTIFY {
                    return Expect::Ignored;
                }
                match self.model.allows(TableEvent::CloseNotifyReceived, version) {
                    true => Expect::Closed,
                    false => Expect::Ended(description),
                }
            }
            APPLICATION_DATA => {
                let epoch = self.epoch_for(item);
                let readable = matches!(
                    self.model.phase,
                    Phase::AppData | Phase::HostInitiatedClosing
                );
                match epoch == EARLY || (readable && epoch != Epoch::Clear) {
                    true => Expect::Ignored,
                    false => Expect::Refused(PeerMisbehaved::ApplicationDataDuringHandshake.into()),
                }
            }
            typ => Expect::Refused(InvalidMessage::UnknownContentType(typ).into()),
        }
    }

    /// Where the table takes a message but its handler must refuse it: its content does not
    /// fit the place it came to.
    fn handler_error(&self, id: ItemId, msg: Msg) -> Option<PeerMisbehaved> {
        let ItemId::Valid(index) = id else {
            return None;
        };
        match msg {
            // Each signs, or MACs, the transcript: after other messages than the valid flight
            // had before it, its check fails.
            Msg::CertificateVerify | Msg::Finished => {
                let before: Vec<usize> =
                    self.valid_handshake().take_while(|i| *i < index).collect();
                (self.accepted != before).then_some(match msg {
                    Msg::CertificateVerify => PeerMisbehaved::BadCertificateVerifySignature,
                    _ => PeerMisbehaved::IncorrectFinished,
                })
            }
            //= https://www.rfc-editor.org/rfc/rfc8446#section-4.1.2
            //# -  If a "key_share" extension was supplied in the HelloRetryRequest,
            //#    replacing the list of shares with a list containing a single
            //#    KeyShareEntry from the indicated group.
            // The first ClientHello again, where the table expects the one answering the
            // HelloRetryRequest, still carries the shares the server could not use.
            Msg::ClientHello if self.model.retried && !self.plan.taken.contains_key(&msg) => {
                Some(PeerMisbehaved::SecondClientHelloChanged(
                    "key_share is not one share for the group asked for",
                ))
            }
            _ => None,
        }
    }

    /// The indices of the valid flight's handshake messages, in order.
    fn valid_handshake(&self) -> impl Iterator<Item = usize> + '_ {
        let items = &self.plan.items;
        (0..items.len()).filter(|i| items[*i].typ == HANDSHAKE)
    }

    fn taken_message(&mut self, id: ItemId, item: &Item, msg: Msg, rows: &[&'static Row]) {
        if let ItemId::Valid(index) = id {
            if item.typ == HANDSHAKE {
                self.accepted.push(index);
            }
        }
        // Post-handshake messages (tickets, KeyUpdate) are in no transcript: answering more of
        // them than the valid flight had is no divergence.
        let answered = rows
            .iter()
            .any(|r| r.from.is_handshaking() && matches!(r.output, table::Output::Flight(_)));
        let valid: Vec<usize> = self.valid_handshake().collect();
        if answered && !valid.starts_with(&self.accepted) {
            self.divergent = true;
        }
        if item.is_compat_ccs(self.version) {
            return;
        }
        let n = self.taken.entry(msg).or_default();
        *n += 1;
        let after = self
            .keys_after
            .and_then(|keys| keys.get(&(self.plan.to_client, msg, *n)));
        if let Some(epoch) = after {
            self.epoch = *epoch;
        }
    }

    /// The keys `item` goes under: for a valid flight its own; in a trace, those the
    /// receiver reads with at this point.
    fn epoch_for(&self, item: &Item) -> Epoch {
        match (item.is_compat_ccs(self.version), self.keys_after) {
            (true, _) => Epoch::Clear,
            (false, None) => item.epoch,
            (false, Some(_)) => self.epoch,
        }
    }

    fn seal(&mut self, run: &Run, item: &Item) -> Vec<u8> {
        match self.epoch_for(item) {
            Epoch::Clear => plain_record(item.typ, [0x03, 0x03], &item.content),
            epoch => {
                // Keys the receiver derived from this very flight (a repeated ClientHello
                // comes under the handshake keys) were not in the log when it was opened.
                if self.keys.get(epoch).is_none() {
                    self.keys = SenderKeys::new(run, self.version, !self.plan.to_client);
                }
                let keys = self.keys.get(epoch).unwrap();
                let seq = self.seqs.entry(epoch).or_default();
                let record = keys.seal(*seq, item.typ, &item.content);
                *seq += 1;
                record
            }
        }
    }

    /// The sender gets the receiver's answer, which ends with `alert`: what came before (the
    /// receiver's next flight, if the trace let it finish one) must be taken, then the alert
    /// ends the sender, or for close_notify closes it where its table has that row.
    fn sender_gets_alert(&self, run: &mut Run, alert: AlertDescription, context: &str) {
        let answer = run.connection_mut(self.plan.to_client).take_outgoing();
        let (_, last) = records(&answer).pop().expect("the receiver's alert");
        let sender = run.connection_mut(!self.plan.to_client);
        if self.divergent {
            assert_refuses_divergent_answer(sender, &answer, context);
            return;
        }
        assert_eq!(
            sender.receive_data(&answer[..last.start]),
            Ok(()),
            "{context}"
        );
        let closes = alert == AlertDescription::CLOSE_NOTIFY
            && sender.table().all_rows().any(|r| {
                r.from == sender.state() && r.input == Input::Event(TableEvent::CloseNotifyReceived)
            });
        let result = sender.receive_data(&answer[last]);
        match closes {
            true => {
                assert_eq!(result, Ok(()), "{context}");
                assert!(sender.peer_closed(), "{context}");
            }
            false => assert_eq!(result, Err(Error::AlertReceived { alert }), "{context}"),
        }
        assert_eq!(sender.state(), Phase::Shutdown, "{context}");
    }

    /// The sender gets the receiver's answer with no alert in it (an injected fatal alert
    /// is not answered): the receiver's next flight, if it finished the table's, which the
    /// sender takes.
    fn sender_gets_answer(&self, run: &mut Run, context: &str) {
        let answer = run.connection_mut(self.plan.to_client).take_outgoing();
        let sender = run.connection_mut(!self.plan.to_client);
        match self.divergent {
            true => assert_refuses_divergent_answer(sender, &answer, context),
            false => assert_eq!(sender.receive_data(&answer), Ok(()), "{context}"),
        }
    }
}

/// The receiver took a flight with a message missing or out of place that the table allowed
/// (a CertificateRequest left out: the flight without one) and answered it. The sender's own
/// table refuses that answer: the deviation is caught one flight later. Which message it
/// names is the subject of that flight's own traces.
fn assert_refuses_divergent_answer(sender: &mut Connection, answer: &[u8], context: &str) {
    let result = sender.receive_data(answer);
    assert!(
        matches!(
            result,
            Err(Error::Protocol {
                error: ProtocolError::Unexpected { .. },
                sent: Some(AlertDescription::UNEXPECTED_MESSAGE),
            })
        ),
        "{context}: {result:?}"
    );
}

/// Runs one trace of flight `k` of `plan` against a fresh connection pair.
fn run_trace(plan: &Plan<'_>, k: usize, trace: &[ItemId], context: &str) -> (Outcome, bool) {
    let scenario = plan.scenario;
    let mut run = Run::start(scenario);
    for flight in &plan.flights[..k] {
        let (to_client, wire) = run.next_flight().unwrap();
        assert_eq!(to_client, flight.to_client, "{context}");
        run.connection_mut(to_client).receive_data(&wire).unwrap();
    }
    let flight = &plan.flights[k];
    let (to_client, wire) = run.next_flight().unwrap();
    assert_eq!(to_client, flight.to_client, "{context}");
    let keys = SenderKeys::new(&run, scenario.version, !to_client);
    let items = open_flight(&wire, &keys, scenario.version, &mut flight.seqs.clone());
    let kinds = |items: &[Item]| {
        items
            .iter()
            .map(|i| (i.typ, i.msg(), i.epoch))
            .collect::<Vec<_>>()
    };
    assert_eq!(kinds(&items), kinds(&flight.items), "{context}");

    let mut lockstep = Lockstep::new(
        flight,
        scenario.version,
        keys,
        Some(&plan.keys_after),
        flight.seqs.clone(),
        context,
    );
    for &id in trace {
        let item = match id {
            ItemId::Valid(i) => items[i].clone(),
            ItemId::Injected(injection) => injection.item(),
        };
        if let Fed::Over(outcome) = lockstep.feed(&mut run, id, &item) {
            return (outcome, lockstep.divergent);
        }
    }
    (lockstep.finish(&mut run), lockstep.divergent)
}

// --- the test -------------------------------------------------------------------------------------

type Counts = BTreeMap<String, usize>;

/// Traces run, by (version, receiving role), then by deviation and by outcome.
#[derive(Default)]
struct Tally {
    by_deviation: BTreeMap<(Version, &'static str), Counts>,
    by_outcome: BTreeMap<(Version, &'static str), Counts>,
    /// Traces whose receiver answered a flight the sender never sent.
    divergent: usize,
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (mine, theirs) in [
            (&mut self.by_deviation, other.by_deviation),
            (&mut self.by_outcome, other.by_outcome),
        ] {
            for (key, counts) in theirs {
                for (what, n) in counts {
                    *mine.entry(key).or_default().entry(what).or_default() += n;
                }
            }
        }
        self.divergent += other.divergent;
    }
}

/// Every deviant trace of every valid flight of `scenario`.
fn run_scenario(scenario: &Scenario) -> Tally {
    let mut tally = Tally::default();
    let plan = Plan::new(scenario);
    for (k, flight) in plan.flights.iter().enumerate() {
        let role = match flight.to_client {
            true => "client",
            false => "server",
        };
        for (deviation, trace) in deviations(flight.items.len()) {
            let context = format!(
                "{} {}: flight {k} to the {role}, {deviation:?} {trace:?}",
                scenario.version, scenario.name
            );
            let (outcome, divergent) = run_trace(&plan, k, &trace, &context);
            tally.divergent += usize::from(divergent);
            let deviation = match deviation {
                Deviation::Inject(injection) => format!("inject {injection:?}"),
                other => format!("{other:?}"),
            };
            let outcome = match outcome {
                Outcome::GoesOn => "goes on".to_string(),
                Outcome::Refused(alert) => format!("we send {alert}"),
                Outcome::AlertReceived(alert) => format!("ended by the peer's {alert}"),
                Outcome::Closed => "closed in order".to_string(),
            };
            let key = (scenario.version, role);
            let count = |counts: &mut BTreeMap<_, Counts>, what| {
                *counts.entry(key).or_default().entry(what).or_default() += 1;
            };
            count(&mut tally.by_deviation, deviation);
            count(&mut tally.by_outcome, outcome);
        }
    }
    tally
}

#[test]
fn every_deviant_flight_ends_as_the_tables_say() {
    let started = Instant::now();
    let fx = Fixture::new(KeyType::EcdsaP256);
    let scenarios = scenarios(&fx);
    // Two thousand traces, each a fresh connection pair: one thread per scenario.
    let tallies: Vec<Tally> = std::thread::scope(|threads| {
        let running: Vec<_> = scenarios
            .iter()
            .map(|scenario| threads.spawn(|| run_scenario(scenario)))
            .collect();
        running.into_iter().map(|t| t.join().unwrap()).collect()
    });
    let mut tally = Tally::default();
    for other in tallies {
        tally.merge(other);
    }

    let list = |counts: &Counts| {
        counts
            .iter()
            .map(|(what, n)| format!("{what} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut total = 0;
    for (key @ (version, role), counts) in &tally.by_deviation {
        let traces: usize = counts.values().sum();
        total += traces;
        println!("{version} {role}: {traces} deviant traces");
        println!("  by deviation: {}", list(counts));
        println!("  by outcome:   {}", list(&tally.by_outcome[key]));
        // A generator that lost its flights must not pass by running nothing.
        assert!(traces >= 300, "{version} {role}: only {traces} traces");
    }
    println!(
        "total: {total} deviant traces ({} answered a flight the sender never sent) in {:.1}s",
        tally.divergent,
        started.elapsed().as_secs_f64()
    );
    assert_eq!(tally.by_deviation.len(), 4, "both roles of both versions");
    assert!(total >= 1800, "only {total} traces");
}
