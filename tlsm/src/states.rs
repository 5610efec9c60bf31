//! `tlsm states`: the declared state machines, printed straight from the library's tables
//! with the same renderers the golden-file test uses, so what you see is what runs.

use tlsmachine::handshake::table::{self, render, Table};
use tlsmachine::Version;

use crate::common::{CliResult, TlsVersion};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Client,
    Server,
    /// Both tables, client first.
    Both,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned text, one transition per line.
    Table,
    /// Graphviz dot: pipe into `dot -Tsvg`.
    Dot,
    /// A Mermaid state diagram.
    Mermaid,
}

pub fn run(role: RoleArg, version: TlsVersion, format: Format) -> CliResult<()> {
    let version = match version {
        TlsVersion::V12 => Version::Tls12,
        TlsVersion::V13 => Version::Tls13,
    };
    let tables: Vec<&Table> = match role {
        RoleArg::Client => vec![table::table(true, version)],
        RoleArg::Server => vec![table::table(false, version)],
        RoleArg::Both => vec![table::table(true, version), table::table(false, version)],
    };
    let rendered: Vec<String> = tables
        .iter()
        .map(|t| match format {
            Format::Table => render::to_text(t),
            Format::Dot => render::to_dot(t),
            Format::Mermaid => render::to_mermaid(t),
        })
        .collect();
    print!("{}", rendered.join("\n"));
    Ok(())
}
