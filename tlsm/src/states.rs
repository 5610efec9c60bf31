//! `tlsm states`: the declared state machines, printed straight from the library's tables
//! with the same renderers the golden-file test uses, so what you see is what runs.

use tlsmachine::handshake::table::{render, Table, CLIENT_TLS12, SERVER_TLS12};

use crate::common::{check_version, CliResult, TlsVersion};

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
    check_version(Some(version))?;
    let tables: &[&Table] = match role {
        RoleArg::Client => &[&CLIENT_TLS12],
        RoleArg::Server => &[&SERVER_TLS12],
        RoleArg::Both => &[&CLIENT_TLS12, &SERVER_TLS12],
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
