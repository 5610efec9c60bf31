//! Async hooks at the handshake's pause points: a store that sleeps while other handshakes
//! run on the same thread, remote signers on both sides, an async certificate choice, and
//! answers that fail or never come.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tlsmachine::codec::enums::AlertDescription;
use tlsmachine::pause::{CertificateQuery, SessionLookup, SignRequest};
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::session::{MemoryStore, SessionStore, DEFAULT_LIFETIME};
use tlsmachine::{
    CertifiedKey, ClientAuth, ClientConfig, Error, LocalError, ProtocolError, ServerConfig,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zeroize::Zeroizing;

use crate::{AsyncCertResolver, AsyncSessionStore, AsyncSigner, BoxFuture};
use crate::{TlsAcceptor, TlsConnector};

const LIMIT: Duration = Duration::from_secs(30);

fn pki() -> GeneratedPki {
    GeneratedPki::generate(KeyType::EcdsaP256, &["localhost".to_string()]).expect("PKI")
}

fn client_config(pki: &GeneratedPki) -> ClientConfig {
    ClientConfig::new(pki.trust_store().expect("trust store"))
}

/// Runs both handshakes over a duplex pipe, then one line each way.
async fn connect(connector: &TlsConnector, acceptor: &TlsAcceptor) -> io::Result<()> {
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let (client, server) = tokio::join!(
        connector.connect("localhost", client_io),
        acceptor.accept(server_io)
    );
    let (mut client, mut server) = (client?, server?);
    client.write_all(b"ping").await?;
    client.flush().await?;
    let mut buf = [0u8; 4];
    server.read_exact(&mut buf).await?;
    assert_eq!(&buf, b"ping");
    Ok(())
}

fn tls_error(e: &io::Error) -> Option<&Error> {
    e.get_ref().and_then(|inner| inner.downcast_ref::<Error>())
}

/// A remote key: signs with the certificate's own key after a delay, counting requests.
#[derive(Debug, Default)]
struct RemoteSigner {
    requests: AtomicUsize,
}

impl AsyncSigner for RemoteSigner {
    fn sign(&self, request: SignRequest) -> BoxFuture<Result<Vec<u8>, LocalError>> {
        self.requests.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            request
                .certificate
                .signer()
                .sign(request.scheme, &request.message)
        })
    }
}

/// A shared store whose lookups sleep 50 ms, then wait until `others` handshakes have
/// completed: it can only answer if the thread ran them while it waited.
#[derive(Debug)]
struct SlowStore {
    inner: Arc<MemoryStore>,
    completed: Arc<AtomicUsize>,
    others: usize,
    lookups: AtomicUsize,
}

impl AsyncSessionStore for SlowStore {
    fn lookup(&self, lookup: SessionLookup) -> BoxFuture<Option<Zeroizing<Vec<u8>>>> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        let (inner, completed, others) = (self.inner.clone(), self.completed.clone(), self.others);
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            while completed.load(Ordering::SeqCst) < others {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let now = rustls_pki_types::UnixTime::now();
            match lookup.take {
                true => inner.take(&lookup.id, now),
                false => inner.get(&lookup.id, now),
            }
        })
    }
}

/// The test: a store whose lookup sleeps 50 ms while 100 other handshakes proceed
/// on one runtime thread. The lookup only answers once the 100 completed, so a pause that
/// blocked the thread would never end.
#[tokio::test(flavor = "current_thread")]
async fn a_slow_store_lookup_lets_100_other_handshakes_complete_on_one_thread() {
    const OTHERS: usize = 100;
    let pki = pki();
    let memory = Arc::new(MemoryStore::new(1000, DEFAULT_LIFETIME));
    let mut config = ServerConfig::new(pki.server_key().unwrap());
    // Single-use tickets kept in the store: a resumption must look its ticket up.
    config.stateful_tickets = true;
    config.tls13_tickets = 1;
    config.session_store = Some(memory.clone());
    let config = Arc::new(config);
    let completed = Arc::new(AtomicUsize::new(0));
    let store = Arc::new(SlowStore {
        inner: memory,
        completed: completed.clone(),
        others: OTHERS,
        lookups: AtomicUsize::new(0),
    });
    let slow = TlsAcceptor::new(config.clone()).with_session_store(store.clone());
    let fast = TlsAcceptor::new(config);

    let resuming = TlsConnector::new(Arc::new(client_config(&pki)));
    // The first connection brings the ticket (read with the ping's answer).
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let (client, server) = tokio::join!(
        resuming.connect("localhost", client_io),
        slow.accept(server_io)
    );
    let (mut client, mut server) = (client.unwrap(), server.unwrap());
    server.write_all(b"ticket").await.unwrap();
    server.flush().await.unwrap();
    let mut buf = [0u8; 6];
    client.read_exact(&mut buf).await.unwrap();

    tokio::time::timeout(LIMIT, async {
        let others = (0..OTHERS).map(|_| {
            let fast = fast.clone();
            let connector = TlsConnector::new(Arc::new(client_config(&pki)));
            let completed = completed.clone();
            async move {
                connect(&connector, &fast).await.unwrap();
                completed.fetch_add(1, Ordering::SeqCst);
            }
        });
        let slow_one = async {
            let (client_io, server_io) = tokio::io::duplex(64 * 1024);
            let (client, server) = tokio::join!(
                resuming.connect("localhost", client_io),
                slow.accept(server_io)
            );
            let server = server.unwrap();
            assert!(server.connection().negotiated().resumed);
            assert!(client.unwrap().connection().negotiated().resumed);
            completed.load(Ordering::SeqCst)
        };
        let (_, done_before_slow_one) = tokio::join!(futures_join_all(others.collect()), slow_one);
        assert_eq!(done_before_slow_one, OTHERS);
    })
    .await
    .expect("bounded");
    assert_eq!(store.lookups.load(Ordering::SeqCst), 1);
}

/// Runs every future to completion, concurrently, on the current task.
async fn futures_join_all<F: std::future::Future<Output = ()>>(futures: Vec<F>) {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    std::future::poll_fn(|cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}

#[tokio::test]
async fn remote_signers_sign_for_both_sides_in_both_versions() {
    let pki = pki();
    let mut server = ServerConfig::new(pki.server_key().unwrap());
    server.client_auth = ClientAuth::Required(pki.trust_store().unwrap());
    let server_signer = Arc::new(RemoteSigner::default());
    let acceptor = TlsAcceptor::new(Arc::new(server)).with_signer(server_signer.clone());
    for version in [tlsmachine::Version::Tls12, tlsmachine::Version::Tls13] {
        let mut client = client_config(&pki);
        client.versions = vec![version];
        client.client_certificate = Some(pki.client_key().unwrap());
        let client_signer = Arc::new(RemoteSigner::default());
        let connector = TlsConnector::new(Arc::new(client)).with_signer(client_signer.clone());
        let before = server_signer.requests.load(Ordering::SeqCst);
        tokio::time::timeout(LIMIT, connect(&connector, &acceptor))
            .await
            .expect("bounded")
            .unwrap();
        assert_eq!(
            client_signer.requests.load(Ordering::SeqCst),
            1,
            "{version:?}"
        );
        assert_eq!(server_signer.requests.load(Ordering::SeqCst), before + 1);
    }
}

/// Chooses by name, after a lookup that takes a while.
#[derive(Debug)]
struct NamedCertificates {
    localhost: Arc<CertifiedKey>,
}

impl AsyncCertResolver for NamedCertificates {
    fn resolve(&self, query: CertificateQuery) -> BoxFuture<Option<Arc<CertifiedKey>>> {
        let found =
            (query.server_name.as_deref() == Some("localhost")).then(|| self.localhost.clone());
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(5)).await;
            found
        })
    }
}

#[tokio::test]
async fn an_async_resolver_chooses_the_certificate_or_refuses_the_name() {
    let pki = pki();
    let key = pki.server_key().unwrap();
    let acceptor = TlsAcceptor::new(Arc::new(ServerConfig::new(key.clone())))
        .with_cert_resolver(Arc::new(NamedCertificates { localhost: key }));
    let connector = TlsConnector::new(Arc::new(client_config(&pki)));
    tokio::time::timeout(LIMIT, connect(&connector, &acceptor))
        .await
        .expect("bounded")
        .unwrap();

    // Another name: the resolver has nothing, the client hears unrecognized_name.
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let (client, server) = tokio::time::timeout(LIMIT, async {
        tokio::join!(
            connector.connect("other.example", client_io),
            acceptor.accept(server_io)
        )
    })
    .await
    .expect("bounded");
    let server = server.err().expect("refused");
    assert_eq!(
        tls_error(&server),
        Some(&Error::Protocol {
            error: tlsmachine::error::PeerIncompatible::UnrecognizedName.into(),
            sent: Some(AlertDescription::UNRECOGNIZED_NAME)
        })
    );
    let client = client.err().expect("refused");
    assert_eq!(
        tls_error(&client),
        Some(&Error::AlertReceived {
            alert: AlertDescription::UNRECOGNIZED_NAME
        })
    );
}

/// A signer that never answers.
#[derive(Debug)]
struct Stuck;

impl AsyncSigner for Stuck {
    fn sign(&self, _request: SignRequest) -> BoxFuture<Result<Vec<u8>, LocalError>> {
        Box::pin(std::future::pending())
    }
}

/// A signer that fails.
#[derive(Debug)]
struct Broken;

impl AsyncSigner for Broken {
    fn sign(&self, _request: SignRequest) -> BoxFuture<Result<Vec<u8>, LocalError>> {
        Box::pin(async { Err(LocalError::Crypto("hardware module unreachable")) })
    }
}

#[tokio::test]
async fn a_pause_that_fails_or_never_ends_is_internal_error_for_both_sides() {
    let pki = pki();
    let config = Arc::new(ServerConfig::new(pki.server_key().unwrap()));
    let connector = TlsConnector::new(Arc::new(client_config(&pki)));
    for acceptor in [
        TlsAcceptor::new(config.clone())
            .with_signer(Arc::new(Stuck))
            .with_pause_timeout(Duration::from_millis(100)),
        TlsAcceptor::new(config.clone()).with_signer(Arc::new(Broken)),
    ] {
        let (client_io, server_io) = tokio::io::duplex(64 * 1024);
        let (client, server) = tokio::time::timeout(LIMIT, async {
            tokio::join!(
                connector.connect("localhost", client_io),
                acceptor.accept(server_io)
            )
        })
        .await
        .expect("bounded");
        let server = server.err().expect("failed");
        assert!(
            matches!(
                tls_error(&server),
                Some(Error::Protocol {
                    error: ProtocolError::Internal(_),
                    sent: Some(AlertDescription::INTERNAL_ERROR)
                })
            ),
            "{server:?}"
        );
        let client = client.err().expect("failed");
        assert_eq!(
            tls_error(&client),
            Some(&Error::AlertReceived {
                alert: AlertDescription::INTERNAL_ERROR
            })
        );
    }
}

/// Dropping the handshake while its hook is still working drops the hook's future too.
#[tokio::test]
async fn a_handshake_dropped_during_a_pause_drops_the_answer() {
    let pki = pki();
    let acceptor = TlsAcceptor::new(Arc::new(ServerConfig::new(pki.server_key().unwrap())))
        .with_signer(Arc::new(Stuck));
    let connector = TlsConnector::new(Arc::new(client_config(&pki)));
    let (client_io, server_io) = tokio::io::duplex(64 * 1024);
    let mut accept = Box::pin(acceptor.accept(server_io));
    let client = connector.connect("localhost", client_io);
    let paused = tokio::time::timeout(Duration::from_millis(200), async {
        tokio::select! {
            _ = client => unreachable!("the client cannot finish"),
            _ = &mut accept => unreachable!("the signer never answers"),
            () = tokio::time::sleep(Duration::from_millis(100)) => {}
        }
        accept.connection().map(|c| c.state())
    })
    .await
    .expect("bounded");
    assert_eq!(paused, Some(tlsmachine::Phase::Sign));
    drop(accept);
}
