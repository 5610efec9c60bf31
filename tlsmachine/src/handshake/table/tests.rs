//! Tests of the tables themselves: they match ARCHITECTURE.md row for row, every phase is
//! reachable and can end, rows are unambiguous, and the diagrams are held by golden files.

use std::collections::{BTreeSet, HashSet};

use super::*;

const ALL_TABLES: [Table; 4] = [CLIENT_TLS12, SERVER_TLS12, CLIENT_TLS13, SERVER_TLS13];

/// Whether a step is TLS 1.3's optional compatibility ChangeCipherSpec.
fn compat_ccs(step: &Step) -> bool {
    step.msg == Msg::ChangeCipherSpec && matches!(step.when, When::PeerMayOmit | When::MayIf(_))
}

/// A flight as the architecture notes name it: by its first message, not counting TLS 1.3's
/// optional compatibility ChangeCipherSpec.
fn first_msg(steps: &[Step]) -> Msg {
    steps
        .iter()
        .find(|s| !compat_ccs(s))
        .map_or(Msg::ChangeCipherSpec, |s| s.msg)
}

fn edges(table: &Table) -> BTreeSet<(String, String, String)> {
    table
        .all_rows()
        .map(|r| {
            let input = match r.input {
                Input::Event(e) => e.name().to_string(),
                Input::Flight(branch, steps) => format!("{branch:?}:{}", first_msg(steps).name()),
            };
            (r.from.name().to_string(), input, r.to.name().to_string())
        })
        .collect()
}

fn set(rows: &[(&str, &str, &str)]) -> BTreeSet<(String, String, String)> {
    rows.iter()
        .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
        .collect()
}

/// ARCHITECTURE.md §2 "The named state machines", written down independently of the code.
#[test]
fn client_table_is_the_architecture_table() {
    assert_eq!(
        edges(&CLIENT_TLS12),
        set(&[
            ("IDLE", "start", "WAIT_1"),
            ("WAIT_1", "Full:ServerHello", "WAIT_2"),
            ("WAIT_1", "Full:ServerHello", "SIGN"),
            ("SIGN", "signed", "WAIT_2"),
            ("WAIT_1", "Resumed:ServerHello", "APP_DATA"),
            ("WAIT_2", "Full:NewSessionTicket", "APP_DATA"),
            ("APP_DATA", "Renegotiation:HelloRequest", "APP_DATA"),
            ("APP_DATA", "close_notify received", "SHUTDOWN"),
            ("APP_DATA", "local close", "HOST_INITIATED_CLOSING"),
            (
                "HOST_INITIATED_CLOSING",
                "close_notify received",
                "SHUTDOWN"
            ),
        ])
    );
}

#[test]
fn server_table_is_the_architecture_table() {
    assert_eq!(
        edges(&SERVER_TLS12),
        set(&[
            ("IDLE", "Full:ClientHello", "CHECK_SESSION_CACHE"),
            ("CHECK_SESSION_CACHE", "session found", "WAIT_RESUME"),
            (
                "CHECK_SESSION_CACHE",
                "session absent",
                "CHOOSE_CERTIFICATE"
            ),
            ("CHOOSE_CERTIFICATE", "certificate chosen", "SIGN"),
            ("SIGN", "signed", "WAIT"),
            ("WAIT", "Full:Certificate", "APP_DATA"),
            ("WAIT_RESUME", "Resumed:ChangeCipherSpec", "APP_DATA"),
            ("APP_DATA", "Renegotiation:ClientHello", "APP_DATA"),
            ("APP_DATA", "close_notify received", "SHUTDOWN"),
            ("APP_DATA", "local close", "HOST_INITIATED_CLOSING"),
            (
                "HOST_INITIATED_CLOSING",
                "close_notify received",
                "SHUTDOWN"
            ),
        ])
    );
}

/// ARCHITECTURE.md §2 and §7 for TLS 1.3: IDLE → WAIT_1 → APP_DATA with at most one
/// HelloRetryRequest, post-handshake messages in APP_DATA, and a closing side that still
/// reads.
#[test]
fn tls13_client_table_is_the_architecture_table() {
    assert_eq!(
        edges(&CLIENT_TLS13),
        set(&[
            ("IDLE", "start", "WAIT_1"),
            ("WAIT_1", "Retry:HelloRetryRequest", "WAIT_1"),
            ("WAIT_1", "Full:ServerHello", "APP_DATA"),
            ("WAIT_1", "Full:ServerHello", "SIGN"),
            ("SIGN", "signed", "APP_DATA"),
            ("WAIT_1", "Resumed:ServerHello", "APP_DATA"),
            ("APP_DATA", "PostHandshake:NewSessionTicket", "APP_DATA"),
            ("APP_DATA", "PostHandshake:KeyUpdate", "APP_DATA"),
            ("APP_DATA", "local key update", "APP_DATA"),
            ("APP_DATA", "close_notify received", "SHUTDOWN"),
            ("APP_DATA", "local close", "HOST_INITIATED_CLOSING"),
            (
                "HOST_INITIATED_CLOSING",
                "PostHandshake:NewSessionTicket",
                "HOST_INITIATED_CLOSING"
            ),
            (
                "HOST_INITIATED_CLOSING",
                "PostHandshake:KeyUpdate",
                "HOST_INITIATED_CLOSING"
            ),
            (
                "HOST_INITIATED_CLOSING",
                "close_notify received",
                "SHUTDOWN"
            ),
        ])
    );
}

#[test]
fn tls13_server_table_is_the_architecture_table() {
    assert_eq!(
        edges(&SERVER_TLS13),
        set(&[
            ("IDLE", "Retry:ClientHello", "IDLE"),
            ("IDLE", "Full:ClientHello", "CHECK_SESSION_CACHE"),
            ("CHECK_SESSION_CACHE", "session found", "WAIT_RESUME"),
            (
                "CHECK_SESSION_CACHE",
                "session absent",
                "CHOOSE_CERTIFICATE"
            ),
            ("CHOOSE_CERTIFICATE", "certificate chosen", "SIGN"),
            ("SIGN", "signed", "WAIT"),
            ("WAIT", "Full:Certificate", "APP_DATA"),
            ("WAIT_RESUME", "Resumed:EndOfEarlyData", "APP_DATA"),
            ("APP_DATA", "PostHandshake:KeyUpdate", "APP_DATA"),
            ("APP_DATA", "local key update", "APP_DATA"),
            ("APP_DATA", "close_notify received", "SHUTDOWN"),
            ("APP_DATA", "local close", "HOST_INITIATED_CLOSING"),
            (
                "HOST_INITIATED_CLOSING",
                "PostHandshake:KeyUpdate",
                "HOST_INITIATED_CLOSING"
            ),
            (
                "HOST_INITIATED_CLOSING",
                "close_notify received",
                "SHUTDOWN"
            ),
        ])
    );
}

fn flight_msgs(output: &Output) -> Vec<Msg> {
    match output {
        Output::Flight(flight) => flight.steps.iter().map(|s| s.msg).collect(),
        _ => Vec::new(),
    }
}

/// The messages of a flight other than TLS 1.3's optional compatibility ChangeCipherSpec.
fn without_compat(steps: &[Step]) -> Vec<Msg> {
    steps
        .iter()
        .filter(|s| !compat_ccs(s))
        .map(|s| s.msg)
        .collect()
}

fn output_steps(output: &Output) -> &'static [Step] {
    match output {
        Output::Flight(flight) => flight.steps,
        _ => &[],
    }
}

fn input_msgs(input: &Input) -> Vec<Msg> {
    match input {
        Input::Flight(_, steps) => steps.iter().map(|s| s.msg).collect(),
        Input::Event(_) => Vec::new(),
    }
}

/// What one side sends must be exactly what the other side's table expects, flight by flight.
#[test]
fn each_flight_sent_is_the_flight_the_peer_expects() {
    let find = |t: &Table, from: Phase, to: Phase| {
        *t.rows
            .iter()
            .find(|r| r.from == from && r.to == to)
            .unwrap()
    };
    use Phase::*;
    let c = &CLIENT_TLS12;
    let s = &SERVER_TLS12;
    assert_eq!(
        flight_msgs(&find(c, Idle, Wait1).output),
        input_msgs(&find(s, Idle, CheckSessionCache).input)
    );
    // The server's full flight, as the client reads it with and without the request for
    // its certificate; the client answers the same either way.
    let server_flight = flight_msgs(&find(s, Sign, Wait).output);
    assert_eq!(server_flight, input_msgs(&find(c, Wait1, Sign).input));
    let without_request: Vec<Msg> = server_flight
        .into_iter()
        .filter(|m| *m != Msg::CertificateRequest)
        .collect();
    assert_eq!(without_request, input_msgs(&find(c, Wait1, Wait2).input));
    assert_eq!(find(c, Wait1, Wait2).output, find(c, Sign, Wait2).output);
    assert_eq!(
        flight_msgs(&find(c, Wait1, Wait2).output),
        input_msgs(&find(s, Wait, AppData).input)
    );
    assert_eq!(
        flight_msgs(&find(s, Wait, AppData).output),
        input_msgs(&find(c, Wait2, AppData).input)
    );
    assert_eq!(
        flight_msgs(&find(s, CheckSessionCache, WaitResume).output),
        input_msgs(&find(c, Wait1, AppData).input)
    );
    assert_eq!(
        flight_msgs(&find(c, Wait1, AppData).output),
        input_msgs(&find(s, WaitResume, AppData).input)
    );
}

/// The same for TLS 1.3, the compatibility ChangeCipherSpec aside (it may come in several
/// places, and once at most).
#[test]
fn each_tls13_flight_sent_is_the_flight_the_peer_expects() {
    let flight = |t: &Table, from: Phase, branch: Branch| {
        *t.rows
            .iter()
            .find(|r| r.from == from && matches!(r.input, Input::Flight(b, _) if b == branch))
            .unwrap()
    };
    let event = |t: &Table, from: Phase, event: Event| {
        *t.rows
            .iter()
            .find(|r| r.from == from && r.input == Input::Event(event))
            .unwrap()
    };
    let input = |r: Row| match r.input {
        Input::Flight(_, steps) => without_compat(steps),
        Input::Event(_) => Vec::new(),
    };
    let output = |r: Row| without_compat(output_steps(&r.output));
    use Phase::*;
    let c = &CLIENT_TLS13;
    let s = &SERVER_TLS13;
    let client_hello = output(event(c, Idle, Event::Start));
    assert_eq!(client_hello, input(flight(s, Idle, Branch::Full)));
    assert_eq!(client_hello, input(flight(s, Idle, Branch::Retry)));
    assert_eq!(
        output(flight(s, Idle, Branch::Retry)),
        input(flight(c, Wait1, Branch::Retry))
    );
    assert_eq!(
        output(flight(c, Wait1, Branch::Retry)),
        input(flight(s, Idle, Branch::Full))
    );
    let to = |t: &Table, from: Phase, to: Phase| {
        *t.rows
            .iter()
            .find(|r| r.from == from && r.to == to)
            .unwrap()
    };
    // The full flight as the client reads it with and without the request for its
    // certificate; the client answers the same either way.
    let server_flight = output(event(s, Sign, Event::Signed));
    assert_eq!(server_flight, input(to(c, Wait1, Sign)));
    let without_request: Vec<Msg> = server_flight
        .into_iter()
        .filter(|m| *m != Msg::CertificateRequest)
        .collect();
    assert_eq!(without_request, input(to(c, Wait1, AppData)));
    assert_eq!(
        to(c, Wait1, AppData).output,
        event(c, Sign, Event::Signed).output
    );
    assert_eq!(
        output(to(c, Wait1, AppData)),
        input(flight(s, Wait, Branch::Full))
    );
    assert_eq!(
        output(event(s, CheckSessionCache, Event::SessionFound)),
        input(flight(c, Wait1, Branch::Resumed))
    );
    assert_eq!(
        output(flight(c, Wait1, Branch::Resumed)),
        input(flight(s, WaitResume, Branch::Resumed))
    );
    // The server's tickets are each a post-handshake flight of one for the client.
    assert_eq!(
        output(flight(s, Wait, Branch::Full)),
        input(flight(c, AppData, Branch::PostHandshake))
    );
}

/// The resumed TLS 1.3 flight is the full one without authentication.
#[test]
fn tls13_resumed_flight_is_full_flight_minus_authentication() {
    let rows = SERVER_TLS13.rows;
    let of = |event| {
        let row = rows
            .iter()
            .find(|r| r.input == Input::Event(event))
            .unwrap();
        without_compat(output_steps(&row.output))
    };
    let full: Vec<Msg> = of(Event::Signed)
        .into_iter()
        .filter(|m| {
            !matches!(
                m,
                Msg::CertificateRequest | Msg::Certificate | Msg::CertificateVerify
            )
        })
        .collect();
    assert_eq!(of(Event::SessionFound), full);
}

/// TLS 1.3's ChangeCipherSpec changes nothing, so it is never required, only allowed once
/// (`CompatCcsAllowed`) where RFC 8446 §D.4 puts it; and never after a Finished or once the
/// handshake is over.
#[test]
fn tls13_change_cipher_spec_is_optional_and_only_during_the_handshake() {
    for table in [CLIENT_TLS13, SERVER_TLS13] {
        for row in table.all_rows() {
            let (peer, ours) = match row.input {
                Input::Flight(_, steps) => (steps, output_steps(&row.output)),
                Input::Event(_) => (&[][..], output_steps(&row.output)),
            };
            for steps in [peer, ours] {
                let ccs: Vec<usize> = steps
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.msg == Msg::ChangeCipherSpec)
                    .map(|(i, _)| i)
                    .collect();
                for &i in &ccs {
                    assert!(
                        compat_ccs(&steps[i]),
                        "{}: required CCS in {row:?}",
                        table.name
                    );
                    assert!(
                        !steps[..i].iter().any(|s| s.msg == Msg::Finished),
                        "{}: CCS after Finished in {row:?}",
                        table.name
                    );
                    assert!(
                        row.from.is_handshaking(),
                        "{}: CCS in {}",
                        table.name,
                        row.from
                    );
                }
            }
            for step in peer.iter().filter(|s| s.msg == Msg::ChangeCipherSpec) {
                assert_eq!(step.when, When::MayIf(Cond::CompatCcsAllowed), "{row:?}");
            }
        }
    }
}

/// A HelloRetryRequest at most once per handshake: every row that retries is open only
/// while no retry happened.
#[test]
fn hello_retry_request_at_most_once() {
    for table in [CLIENT_TLS13, SERVER_TLS13] {
        let retries: Vec<&Row> = table
            .all_rows()
            .filter(|r| matches!(r.input, Input::Flight(Branch::Retry, _)))
            .collect();
        assert_eq!(retries.len(), 1, "{}", table.name);
        let Input::Flight(_, steps) = retries[0].input else {
            unreachable!()
        };
        assert_eq!(steps[0].when, When::If(Cond::FirstHello), "{}", table.name);
        assert_eq!(retries[0].from, retries[0].to, "a retry stays in its phase");
    }
}

/// The abbreviated flight is the full one without authentication and key exchange: the
/// ServerHello, then exactly what the full handshake's last server flight holds.
#[test]
fn resumed_flight_is_full_flight_minus_authentication() {
    let rows = SERVER_TLS12.rows;
    let resumed = rows.iter().find(|r| r.to == Phase::WaitResume).unwrap();
    let last_full = rows.iter().find(|r| r.from == Phase::Wait).unwrap();
    let mut expected = vec![Msg::ServerHello];
    expected.extend(flight_msgs(&last_full.output));
    assert_eq!(flight_msgs(&resumed.output), expected);
}

/// ChangeCipherSpec is only ever immediately followed by Finished, in every flight, so no
/// early CCS can be accepted (CVE-2014-0224 shape).
#[test]
fn change_cipher_spec_always_directly_precedes_finished() {
    for table in [CLIENT_TLS12, SERVER_TLS12] {
        for row in table.all_rows() {
            for msgs in [input_msgs(&row.input), flight_msgs(&row.output)] {
                for (i, m) in msgs.iter().enumerate() {
                    if *m == Msg::ChangeCipherSpec {
                        assert_eq!(msgs.get(i + 1), Some(&Msg::Finished), "{row:?}");
                    }
                }
                if let Some(i) = msgs.iter().position(|m| *m == Msg::Finished) {
                    assert!(i > 0 && msgs[i - 1] == Msg::ChangeCipherSpec, "{row:?}");
                }
            }
        }
    }
}

#[test]
fn every_phase_is_reachable_from_idle_and_reaches_shutdown() {
    for table in ALL_TABLES {
        let mut reached = HashSet::from([Phase::Idle]);
        loop {
            let before = reached.len();
            for r in table.all_rows() {
                if reached.contains(&r.from) {
                    reached.insert(r.to);
                }
            }
            if reached.len() == before {
                break;
            }
        }
        assert_eq!(
            reached,
            table.phases().into_iter().collect(),
            "{}",
            table.name
        );
        assert!(reached.contains(&Phase::Shutdown));
        // Without using the implied fatal edge: every phase can end in an orderly way.
        for phase in table.phases() {
            let mut seen = HashSet::from([phase]);
            let mut frontier = vec![phase];
            while let Some(p) = frontier.pop() {
                for r in table.all_rows().filter(|r| r.from == p) {
                    if seen.insert(r.to) {
                        frontier.push(r.to);
                    }
                }
            }
            assert!(
                seen.contains(&Phase::Shutdown),
                "{} cannot end from {phase}",
                table.name
            );
        }
    }
}

/// Rows from one phase on one branch may share their first messages (the client's full
/// flights with and without a CertificateRequest): the driver follows both until one
/// fails. Their step lists must still differ.
#[test]
fn no_two_rows_share_a_phase_and_input() {
    for table in ALL_TABLES {
        let mut seen = HashSet::new();
        for r in table.all_rows() {
            let key = match r.input {
                Input::Event(e) => format!("{:?} {e:?}", r.from),
                Input::Flight(b, steps) => format!("{:?} {b:?} {steps:?}", r.from),
            };
            assert!(seen.insert(key.clone()), "{}: duplicate {key}", table.name);
        }
    }
}

#[test]
fn every_condition_is_used() {
    let used: HashSet<Cond> = ALL_TABLES
        .iter()
        .flat_map(|t| t.all_rows())
        .flat_map(|r| {
            let mut steps: Vec<Step> = Vec::new();
            if let Input::Flight(_, s) = r.input {
                steps.extend_from_slice(s);
            }
            steps.extend_from_slice(output_steps(&r.output));
            steps
        })
        .filter_map(|s| match s.when {
            When::If(c) | When::MayIf(c) => Some(c),
            _ => None,
        })
        .collect();
    for cond in [
        Cond::EcdheSuite,
        Cond::ClientAuthConfigured,
        Cond::CertRequested,
        Cond::ClientCertSent,
        Cond::TicketPromised,
        Cond::FirstHello,
        Cond::CompatCcsAllowed,
        Cond::UpdateRequested,
    ] {
        assert!(used.contains(&cond), "{cond:?} unused");
    }
}

/// The diagrams in docs/states/ are generated from these tables; regenerate them with
/// `UPDATE_GOLDEN=1 cargo test -p tlsmachine golden`.
#[test]
fn golden_diagrams() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/states");
    let mut stale = Vec::new();
    for (name, table) in [
        ("client-tls12", CLIENT_TLS12),
        ("server-tls12", SERVER_TLS12),
        ("client-tls13", CLIENT_TLS13),
        ("server-tls13", SERVER_TLS13),
    ] {
        for (ext, text) in [
            ("dot", render::to_dot(&table)),
            ("mmd", render::to_mermaid(&table)),
            ("txt", render::to_text(&table)),
        ] {
            let path = format!("{dir}/{name}.{ext}");
            if std::env::var_os("UPDATE_GOLDEN").is_some() {
                std::fs::write(&path, &text).unwrap();
            } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path);
            }
        }
    }
    assert!(
        stale.is_empty(),
        "state diagrams differ from the tables (UPDATE_GOLDEN=1 to accept): {stale:?}"
    );
}
