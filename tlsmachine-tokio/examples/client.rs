//! Fetches one path over HTTPS with [`TlsConnector`] and prints the response, HTTP/1.1
//! written by hand to show the stream itself.
//!
//! ```sh
//! cargo run -p tlsmachine-tokio --example client -- localhost:8443 / ca.pem
//! cargo run -p tlsmachine-tokio --example client -- example.com:443 /   # Mozilla's roots
//! ```

use std::io::Write;
use std::sync::Arc;

use tlsmachine::verify::TrustStore;
use tlsmachine::ClientConfig;
use tlsmachine_tokio::TlsConnector;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(target) = args.first() else {
        return Err("usage: client HOST:PORT [PATH] [CA_PEM]".into());
    };
    let path = args.get(1).map_or("/", String::as_str);
    let roots = match args.get(2) {
        Some(ca) => {
            let mut roots = TrustStore::empty();
            roots.add_pem(&std::fs::read(ca)?)?;
            roots
        }
        None => TrustStore::webpki_roots(),
    };
    let host = target
        .rsplit_once(':')
        .map_or(target.as_str(), |(host, _)| host);
    let mut config = ClientConfig::new(roots);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let connector = TlsConnector::new(Arc::new(config));

    let tcp = TcpStream::connect(target).await?;
    let mut tls = connector.connect(host, tcp).await?;
    let negotiated = tls.connection().negotiated();
    eprintln!("{:?} {:?}", negotiated.version, negotiated.cipher_suite);
    let request = format!("GET {path} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await?;
    tls.flush().await?;
    let mut response = Vec::new();
    // Ends at the server's close_notify; a server that just drops the connection is an
    // error here, not a short page.
    tls.read_to_end(&mut response).await?;
    std::io::stdout().write_all(&response)?;
    Ok(())
}
