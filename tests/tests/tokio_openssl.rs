//! Interop of the tokio adapter with OpenSSL: `openssl s_client` against a server on
//! `TlsAcceptor`, and a client on `TlsConnector` against `openssl s_server -rev`, for both
//! certificate types, with application data and close_notify both ways and ALPN settled.

use std::sync::Arc;

use tlsmachine::{ClientConfig, Negotiated, Phase, ServerConfig};
use tlsmachine_tests::{
    free_port, openssl_s_client, openssl_s_server, peer_available, s_client_echo, Peer, PkiDir,
    CERT_TYPES, TIMEOUT,
};
use tlsmachine_tokio::{TlsAcceptor, TlsConnector};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What our tokio server saw of its one connection.
struct Served {
    received: Vec<u8>,
    negotiated: Negotiated,
    peer_closed: bool,
    state: Phase,
}

/// Accepts one connection on `listener` and echoes it until the client's close_notify,
/// then shuts down (our close_notify already answered the client's).
async fn echo_once(listener: TcpListener, acceptor: TlsAcceptor) -> std::io::Result<Served> {
    let (tcp, _) = listener.accept().await?;
    let mut tls = acceptor.accept(tcp).await?;
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tls.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        received.extend_from_slice(&buf[..n]);
        tls.write_all(&buf[..n]).await?;
        tls.flush().await?;
    }
    tls.shutdown().await?;
    let conn = tls.connection();
    Ok(Served {
        received,
        negotiated: conn.negotiated().clone(),
        peer_closed: conn.peer_closed(),
        state: conn.state(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_against_our_tokio_server() {
    if !peer_available("openssl") {
        return;
    }
    for key_type in CERT_TYPES {
        let pki = PkiDir::new(key_type);
        let mut config = ServerConfig::new(pki.pki.server_key().unwrap());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(tokio::time::timeout(
            TIMEOUT,
            echo_once(listener, TlsAcceptor::new(Arc::new(config))),
        ));

        let cmd = openssl_s_client(
            port,
            &[
                "-servername",
                "localhost",
                "-CAfile",
                &pki.path("ca.pem"),
                "-verify_return_error",
                "-alpn",
                "http/1.1,h2",
            ],
        );
        // s_client blocks on its process; it runs beside the runtime's workers.
        let output = tokio::task::spawn_blocking(move || s_client_echo(cmd, "ping from openssl"))
            .await
            .unwrap();
        assert!(output.contains("ALPN protocol: h2"), "{output}");

        let served = server
            .await
            .unwrap()
            .expect("server bounded in time")
            .unwrap_or_else(|e| panic!("{key_type:?}: our server: {e}"));
        assert_eq!(served.received, b"ping from openssl\n");
        assert_eq!(served.negotiated.alpn_protocol.as_deref(), Some(&b"h2"[..]));
        assert!(
            served.peer_closed,
            "{key_type:?}: no close_notify from s_client"
        );
        assert_eq!(served.state, Phase::Shutdown);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_tokio_client_against_openssl_s_server() {
    if !peer_available("openssl") {
        return;
    }
    for key_type in CERT_TYPES {
        let pki = PkiDir::new(key_type);
        let port = free_port();
        let server = Peer::spawn(openssl_s_server(
            port,
            &[
                "-cert",
                &pki.path("server.pem"),
                "-key",
                &pki.path("server.key"),
                "-alpn",
                "http/1.1",
            ],
        ));
        server.wait_for_output("ACCEPT");

        let mut config = ClientConfig::new(pki.pki.trust_store().unwrap());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let connector = TlsConnector::new(Arc::new(config));
        let roundtrip = async {
            let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
            let mut tls = connector.connect("localhost", tcp).await?;
            tls.write_all(b"hello tlsmachine\n").await?;
            tls.flush().await?;
            let mut reply = [0u8; 17];
            tls.read_exact(&mut reply).await?;
            assert_eq!(&reply, b"enihcamslt olleh\n", "s_server -rev answer");
            // Our close_notify; s_server answers with its own, which ends our reads.
            tls.shutdown().await?;
            assert_eq!(tls.read(&mut [0u8; 16]).await?, 0);
            Ok::<_, std::io::Error>(tls)
        };
        let tls = tokio::time::timeout(TIMEOUT, roundtrip)
            .await
            .expect("bounded in time")
            .unwrap_or_else(|e| panic!("{key_type:?}: {e}\n{}", server.output()));
        let conn = tls.connection();
        assert_eq!(conn.state(), Phase::Shutdown);
        assert!(conn.peer_closed());
        assert_eq!(
            conn.negotiated().alpn_protocol.as_deref(),
            Some(&b"http/1.1"[..])
        );
        assert!(conn.negotiated().extended_master_secret);
    }
}
