//! An HTTPS server: hyper 1 over [`TlsAcceptor`], speaking HTTP/2 or HTTP/1.1, whichever the
//! client chose with ALPN. Each connection is served in its own task.
//!
//! ```sh
//! cargo run -p tlsmachine-tokio --example hyper_server -- 127.0.0.1:8443 server.pem server.key
//! curl --http2 --cacert ca.pem https://localhost:8443/
//! ```
//!
//! Without PEM files it generates a certificate for localhost and 127.0.0.1 and writes its CA
//! to a temporary file for clients to trust. Each connection's protocol is logged
//! (`127.0.0.1:50514 ALPN h2`), sent back as the `x-alpn` header and shown on the page.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper::{body::Incoming, Request, Response};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tlsmachine::pki::{GeneratedPki, KeyType};
use tlsmachine::{CertifiedKey, ServerConfig};
use tlsmachine_tokio::TlsAcceptor;
use tokio::net::{TcpListener, TcpStream};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let addr = args.first().map_or("127.0.0.1:8443", String::as_str);
    let key = match (args.get(1), args.get(2)) {
        (Some(cert), Some(key)) => Arc::new(CertifiedKey::from_pem(
            &std::fs::read(cert)?,
            &std::fs::read(key)?,
        )?),
        _ => generated_key()?,
    };
    let mut config = ServerConfig::new(key);
    // Our order decides: a client offering both gets HTTP/2.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::new(Arc::new(config));

    let listener = TcpListener::bind(addr).await?;
    println!("listening on https://{}/", listener.local_addr()?);
    loop {
        let (tcp, peer) = listener.accept().await?;
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(acceptor, tcp, peer).await {
                eprintln!("{peer}: {e:?}");
            }
        });
    }
}

async fn serve(acceptor: TlsAcceptor, tcp: TcpStream, peer: SocketAddr) -> Result<(), BoxError> {
    // A client that connects and says nothing must not hold a task forever.
    let tls = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await??;
    let alpn = match tls.connection().negotiated().alpn_protocol.as_deref() {
        Some(b"h2") => "h2",
        Some(_) => "http/1.1",
        // A client without ALPN speaks HTTP/1.1.
        None => "none",
    };
    println!("{peer} ALPN {alpn}");
    let service = service_fn(move |request| respond(request, alpn));
    let io = TokioIo::new(tls);
    if alpn == "h2" {
        http2::Builder::new(TokioExecutor::new())
            .serve_connection(io, service)
            .await?;
    } else {
        http1::Builder::new().serve_connection(io, service).await?;
    }
    Ok(())
}

async fn respond(
    request: Request<Incoming>,
    alpn: &'static str,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let page = format!(
        "<!DOCTYPE html><title>tlsmachine</title>\n<p id=\"tls\">{:?} over tlsmachine, ALPN {alpn}, \
         path {}</p>\n",
        request.version(),
        request.uri().path()
    );
    let mut response = Response::new(Full::new(Bytes::from(page)));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert("x-alpn", HeaderValue::from_static(alpn));
    Ok(response)
}

/// A fresh CA and a certificate from it for localhost and 127.0.0.1; the CA is written to a
/// temporary file for clients to trust.
fn generated_key() -> Result<Arc<CertifiedKey>, BoxError> {
    let names = ["localhost".to_string(), "127.0.0.1".to_string()];
    let pki = GeneratedPki::generate(KeyType::EcdsaP256, &names)?;
    let ca = std::env::temp_dir().join("tlsmachine-hyper-ca.pem");
    std::fs::write(&ca, &pki.ca_pem)?;
    println!(
        "no certificate given: generated one, its CA is in {}",
        ca.display()
    );
    Ok(pki.server_key()?)
}
