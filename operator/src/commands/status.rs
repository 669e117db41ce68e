//! `turnout status`: what the running standalone turnout reports.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::output::{Format, Table, write_data};
use crate::runtime::docker::address::{self, EngineFlags};
use crate::status::StandaloneStatus;

/// Show the status of the running standalone turnout.
///
/// Example: turnout status; turnout status -o json
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Address of the running turnout's HTTP endpoint.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9477")]
    pub addr: SocketAddr,
    /// Read a status file instead of asking the running process.
    #[arg(long, value_name = "FILE")]
    pub status_file: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

impl StatusArgs {
    /// `engine`: an `--engine` typed on the command line is refused, not
    /// ignored: this command reads a running turnout, not an engine, and a
    /// person asking about another host must not be shown this one.
    pub async fn run(self, engine: EngineFlags) -> anyhow::Result<ExitCode> {
        if let Some(raw) = engine.engine.as_deref() {
            bail!(
                "turnout status asks the running turnout (--addr, or --status-file), not a Docker engine, so --engine {} would not be used. To read an engine, here or on another host: turnout plan FILE --engine ADDR, or turnout import --engine ADDR",
                address::shown(raw)
            );
        }
        run(self.addr, self.status_file, self.output).await
    }
}

async fn run(
    addr: SocketAddr,
    status_file: Option<PathBuf>,
    format: Format,
) -> anyhow::Result<ExitCode> {
    let json = match &status_file {
        Some(f) => {
            std::fs::read_to_string(f).with_context(|| format!("cannot read {}", f.display()))?
        }
        None => fetch(addr).await?,
    };
    let status: StandaloneStatus =
        serde_json::from_str(&json).context("the status is not turnout's status JSON")?;
    let mut out = std::io::stdout().lock();
    match format {
        Format::Table => print_human(&mut out, &status)?,
        f => write_data(&mut out, f, &status)?,
    }
    let ready = status
        .status
        .conditions
        .iter()
        .any(|c| c.type_ == "Ready" && c.status == "True");
    Ok(if ready {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn fetch(addr: SocketAddr) -> anyhow::Result<String> {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| {
            format!("no turnout answers on {addr}; is `turnout standalone` running (see --listen)?")
        })?;
    s.write_all(format!("GET /status HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await?;
    let mut buf = Vec::new();
    s.take(16 * 1024 * 1024).read_to_end(&mut buf).await?;
    let text = String::from_utf8(buf).context("status response is not UTF-8")?;
    let (head, body) = text
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    if !head.starts_with("HTTP/1.1 200") && !head.starts_with("HTTP/1.0 200") {
        anyhow::bail!(
            "{addr} answered: {}",
            head.lines().next().unwrap_or_default()
        );
    }
    Ok(body.to_string())
}

fn print_human(out: &mut dyn Write, s: &StandaloneStatus) -> std::io::Result<()> {
    writeln!(
        out,
        "Selection {} (plan {}, file {})",
        s.selection, s.plan, s.file
    )?;
    writeln!(
        out,
        "Desired version: {}   running: {}",
        s.desired_version,
        s.status.active_version.as_deref().unwrap_or("none")
    )?;
    for c in &s.status.conditions {
        writeln!(
            out,
            "  {:<12} {:<6} {:<20} {}",
            c.type_, c.status, c.reason, c.message
        )?;
    }
    if let Some(e) = &s.file_error {
        writeln!(out, "Last edit ignored: {e}")?;
    }
    writeln!(out)?;
    let mut t = Table::new(["CONTAINER", "ROLE", "STATE", "READY", "PORTS"]);
    for c in &s.status.containers {
        t.row([
            c.name.clone(),
            c.role.clone(),
            c.state.clone(),
            c.ready.to_string(),
            c.ports.join(","),
        ]);
    }
    t.write(out, "  ")?;
    if let Some(sw) = &s.status.last_switch {
        let p = &sw.phases;
        let ms = |v: Option<u64>| v.map_or("-".to_string(), |v| format!("{v}ms"));
        writeln!(
            out,
            "\nLast switch: {} -> {} {} at {} (stop {}, sync {}, start {}, ready {})",
            sw.from.as_deref().unwrap_or("nothing"),
            sw.to,
            sw.outcome,
            sw.started_at,
            ms(p.stop_ms),
            ms(p.sync_ms),
            ms(p.start_ms),
            ms(p.ready_ms)
        )?;
    }
    if !s.data_syncs.is_empty() {
        writeln!(out, "\nData syncs (newest first):")?;
        let mut t = Table::new(["NAME", "FROM", "TO", "PHASE", "MESSAGE"]);
        for d in &s.data_syncs {
            t.row([
                d.name.clone(),
                d.spec.from.clone(),
                d.spec.to.clone(),
                d.status.phase.map_or("-".to_string(), |p| format!("{p:?}")),
                d.status.message.clone().unwrap_or_default(),
            ]);
        }
        t.write(out, "  ")?;
    }
    if !s.data.is_empty() {
        writeln!(out, "\nData (where each database's contents came from):")?;
        super::lineage::table(&s.data).write(out, "  ")?;
    }
    writeln!(out, "Updated {}", s.updated_at)
}
