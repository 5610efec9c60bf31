//! tlsm: the command-line face of tlsmachine. `tlsm demo` shows a handshake end to end;
//! `server` and `client` talk to real peers; `cert generate` makes test certificates;
//! `states` prints the declared state machines.

mod cert;
mod client;
mod common;
mod demo;
mod demo_fleet;
mod fleet;
mod resume;
mod server;
mod states;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use common::TlsVersion;

#[derive(Debug, Parser)]
#[command(
    name = "tlsm",
    version,
    about = "TLS 1.3 and 1.2 client, server, demo and state diagrams, built on tlsmachine",
    after_help = "\
Examples:
  tlsm demo                                   TLS 1.2 and 1.3 handshakes, 0-RTT included, traced
  tlsm cert generate --out certs              a CA plus server and client certificates
  tlsm server --cert certs/server.pem --key certs/server.key --http
  tlsm client localhost:4433 --ca certs/ca.pem --trace < /dev/null
  tlsm states --role client --format dot | dot -Tsvg > client.svg

Run `tlsm <command> --help` for each command's options and examples."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a client and a server in this process over 127.0.0.1 and show each handshake.
    #[command(after_help = "\
Examples:
  tlsm demo
  tlsm demo --key-type rsa-2048
  tlsm demo --fleet

Needs no files and no network beyond 127.0.0.1. Prints, for TLS 1.2 (full, resumed, mutual
TLS) and TLS 1.3 (full, HelloRetryRequest, mutual TLS, resumed with a PSK, 0-RTT): the
flights (who sent what; optional messages sent or skipped, and why), both sides' state
transitions, an echo, the orderly close and the timing.

--fleet instead runs two servers sharing sessions and ticket keys through a redis-server
it starts (skipped when redis-server is not installed): the client resumes on the other
server by TLS 1.2 session ID and by a single-use TLS 1.3 ticket with 0-RTT data, which the
first server then refuses to accept again.")]
    Demo {
        /// Key type of the generated certificates.
        #[arg(long, value_name = "TYPE", default_value = "ecdsa-p256")]
        key_type: String,
        /// Two servers sharing one Redis: the client resumes on the other server.
        #[arg(long)]
        fleet: bool,
    },
    /// Serve TLS 1.3 and 1.2: echo or a minimal HTTP/1.1 responder.
    Server(server::ServerArgs),
    /// Connect to a TLS server, send standard input, print what comes back.
    Client(client::ClientArgs),
    /// Make certificates for local testing.
    Cert {
        #[command(subcommand)]
        command: CertCommand,
    },
    /// Print the declared handshake state machines (table, Graphviz dot or Mermaid).
    #[command(after_help = "\
Examples:
  tlsm states
  tlsm states --role server --format mermaid
  tlsm states --role client --format dot | dot -Tsvg > client.svg")]
    States {
        /// Whose state machine.
        #[arg(long, value_name = "ROLE", default_value = "both")]
        role: states::RoleArg,
        /// Protocol version.
        #[arg(long, value_name = "VERSION", default_value = "1.2")]
        version: TlsVersion,
        /// Output format.
        #[arg(long, value_name = "FORMAT", default_value = "table")]
        format: states::Format,
    },
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Write ca.pem, ca.key, server.pem, server.key, client.pem and client.key to a folder.
    #[command(after_help = "\
Examples:
  tlsm cert generate --out certs
  tlsm cert generate --out certs --names example.test,10.0.0.5 --key-type rsa-2048

server.pem and client.pem hold the leaf followed by the CA certificate. For testing only:
the CA key is written next to the certificates.")]
    Generate {
        /// Folder to write to (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// DNS names and IP addresses the server certificate is valid for.
        #[arg(long, value_name = "LIST", default_value = "localhost,127.0.0.1")]
        names: String,
        /// ecdsa-p256, ecdsa-p384, rsa-2048, rsa-3072 or ed25519.
        #[arg(long, value_name = "TYPE", default_value = "ecdsa-p256")]
        key_type: String,
        /// Overwrite files that already exist.
        #[arg(long)]
        force: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Demo { key_type, fleet } if fleet => demo_fleet::run(&key_type),
        Command::Demo { key_type, .. } => demo::run(&key_type),
        Command::Server(args) => server::run(args),
        Command::Client(args) => client::run(args),
        Command::Cert {
            command:
                CertCommand::Generate {
                    out,
                    names,
                    key_type,
                    force,
                },
        } => cert::generate(&out, &names, &key_type, force),
        Command::States {
            role,
            version,
            format,
        } => states::run(role, version, format),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tlsm: error: {e}");
            ExitCode::FAILURE
        }
    }
}
