//! Draws the declared tables as Graphviz dot, Mermaid and a plain-text table. `tlsm states`
//! and the golden-file test call these same functions, so a protocol change shows up in the
//! review diff of `docs/states/`.

use core::fmt::Write;

use super::{Input, Output, Phase, Step, Table, When};

/// One step as the diagrams write it: `Msg`, `Msg?` (the sender may omit it),
/// `Msg [condition]`, `Msg? [condition]` or `Msg* [condition]` (any number).
pub fn step_label(step: &Step) -> String {
    match step.when {
        When::Always => step.msg.name().to_string(),
        When::PeerMayOmit => format!("{}?", step.msg.name()),
        When::If(cond) => format!("{} [{}]", step.msg.name(), cond.describe()),
        When::MayIf(cond) => format!("{}? [{}]", step.msg.name(), cond.describe()),
        When::RepeatIf(cond) => format!("{}* [{}]", step.msg.name(), cond.describe()),
    }
}

fn steps_label(steps: &[Step], sep: &str) -> String {
    steps.iter().map(step_label).collect::<Vec<_>>().join(sep)
}

/// The input side of a row.
pub fn input_label(input: &Input, sep: &str) -> String {
    match input {
        Input::Event(e) => e.name().to_string(),
        Input::Flight(super::Branch::Full, steps) => steps_label(steps, sep),
        Input::Flight(branch, steps) => {
            format!(
                "({}) {}",
                format!("{branch:?}").to_lowercase(),
                steps_label(steps, sep)
            )
        }
    }
}

/// The output side of a row.
pub fn output_label(output: &Output, sep: &str) -> String {
    match output {
        Output::Nothing => "-".to_string(),
        Output::Flight(flight) => steps_label(flight.steps, sep),
        Output::Alert(alert) => format!("alert {alert}"),
    }
}

fn fatal_sources(table: &Table) -> Vec<Phase> {
    table
        .phases()
        .into_iter()
        .filter(|p| *p != Phase::Shutdown)
        .collect()
}

/// Graphviz dot; render with `dot -Tsvg`.
pub fn to_dot(table: &Table) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "digraph \"{}\" {{", table.name);
    let _ = writeln!(out, "  rankdir=TB;");
    let _ = writeln!(
        out,
        "  node [shape=box, style=rounded, fontname=\"monospace\"];"
    );
    let _ = writeln!(out, "  edge [fontname=\"monospace\", fontsize=10];");
    for row in table.all_rows() {
        let _ = writeln!(
            out,
            "  {} -> {} [label=\"{}\\l/ {}\\l\"];",
            row.from,
            row.to,
            input_label(&row.input, "\\l"),
            output_label(&row.output, "\\l  ")
        );
    }
    for phase in fatal_sources(table) {
        let _ = writeln!(
            out,
            "  {phase} -> SHUTDOWN [style=dashed, color=gray, label=\"fatal\"];"
        );
    }
    out.push_str("}\n");
    out
}

/// A Mermaid state diagram.
pub fn to_mermaid(table: &Table) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "---\ntitle: {}\n---\nstateDiagram-v2", table.name);
    let _ = writeln!(out, "    [*] --> IDLE");
    for row in table.all_rows() {
        let _ = writeln!(
            out,
            "    {} --> {} : {} / {}",
            row.from,
            row.to,
            input_label(&row.input, ", ").replace(':', " -"),
            output_label(&row.output, ", ")
        );
    }
    for phase in fatal_sources(table) {
        let _ = writeln!(out, "    {phase} --> SHUTDOWN : fatal alert");
    }
    let _ = writeln!(out, "    SHUTDOWN --> [*]");
    out
}

/// A plain-text table, one row per line, like ARCHITECTURE.md's flight tables.
pub fn to_text(table: &Table) -> String {
    let rows: Vec<[String; 4]> = table
        .all_rows()
        .map(|r| {
            [
                r.from.to_string(),
                input_label(&r.input, ", "),
                r.to.to_string(),
                output_label(&r.output, ", "),
            ]
        })
        .collect();
    let header = ["from", "input", "to", "we send"].map(String::from);
    let mut widths = [0usize; 3];
    for row in rows.iter().chain([&header]) {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = format!("{}\n", table.name);
    for row in [&header].into_iter().chain(rows.iter()) {
        let _ = writeln!(
            out,
            "  {:<w0$}  {:<w1$}  {:<w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
    }
    let _ = writeln!(
        out,
        "  any phase, on a fatal alert sent or received -> SHUTDOWN"
    );
    out
}
