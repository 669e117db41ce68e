//! The SSH transport: each connection to the engine is one run of the
//! system `ssh`, `ssh -T [-l USER] [-p PORT] -- HOST docker system
//! dial-stdio`, whose stdin and stdout carry the API, as the Docker CLI
//! does. ssh's own config, agent and known_hosts apply; `BatchMode` makes
//! a missing key or an unknown host key an error, never a prompt that
//! waits for ever; `ConnectTimeout` and `ServerAlive*` bound a host that
//! does not answer or goes away. Each ssh is killed when its connection is
//! dropped, and what it printed on stderr (bounded) is kept for the error
//! message.
//!
//! (bollard's own ssh transport is not used: it drops the port of
//! `ssh://HOST:PORT`, accepts unknown host keys, and leaves a master ssh
//! running when turnout is killed.)

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bollard::errors::Error as BollardError;
use bollard::{BollardRequest, Docker};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::AsyncReadExt;
use tokio::process::{Child, ChildStdin, ChildStdout};

/// Most of ssh's stderr kept for a message.
const STDERR_LIMIT: usize = 4096;

/// What the ssh runs of one engine printed on stderr, newest run last.
#[derive(Clone, Default)]
pub(super) struct SshDiagnostics(Arc<Mutex<Captured>>);

#[derive(Default)]
struct Captured {
    text: String,
    /// ssh runs whose stderr is still being read.
    open: usize,
}

impl SshDiagnostics {
    /// ssh's last words, once every run that ended has been read (waits at
    /// most a second: ssh has exited by the time a connection fails).
    pub(super) async fn said(&self) -> String {
        for _ in 0..20 {
            if self.0.lock().map(|c| c.open == 0).unwrap_or(true) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.0
            .lock()
            .map(|c| c.text.trim().to_string())
            .unwrap_or_default()
    }
}

/// A client for the engine behind `ssh` with these arguments before the
/// host (`-l USER`, `-p PORT`) and this host.
pub(super) fn client(
    options: Vec<String>,
    host: &str,
    connect_timeout: Duration,
    request_timeout_secs: u64,
) -> Result<(Docker, SshDiagnostics), BollardError> {
    let mut argv = vec![
        "-T".to_string(),
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        format!("ConnectTimeout={}", connect_timeout.as_secs().max(1)),
        "-o".into(),
        "ServerAliveInterval=15".into(),
        "-o".into(),
        "ServerAliveCountMax=3".into(),
    ];
    argv.extend(options);
    // `--`: nothing after it is read as an option, whatever the host is.
    argv.extend(["--".into(), host.to_string()]);
    argv.extend(["docker", "system", "dial-stdio"].map(String::from));
    let diagnostics = SshDiagnostics::default();
    let connector = SshConnector {
        argv: argv.into(),
        diagnostics: diagnostics.clone(),
    };
    let client = Arc::new(Client::builder(TokioExecutor::new()).build(connector));
    let transport = move |req: BollardRequest| {
        let client = Arc::clone(&client);
        async move { client.request(req).await.map_err(BollardError::from) }
    };
    let docker = Docker::connect_with_custom_transport(
        transport,
        Some("ssh://docker-engine"),
        request_timeout_secs,
        bollard::API_DEFAULT_VERSION,
    )?;
    Ok((docker, diagnostics))
}

/// Opens a connection by starting an ssh.
#[derive(Clone)]
struct SshConnector {
    argv: Arc<[String]>,
    diagnostics: SshDiagnostics,
}

impl tower_service::Service<hyper::Uri> for SshConnector {
    type Response = SshStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = Result<SshStream, io::Error>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), io::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: hyper::Uri) -> Self::Future {
        let argv = Arc::clone(&self.argv);
        let diagnostics = self.diagnostics.clone();
        Box::pin(async move {
            let mut child = tokio::process::Command::new("ssh")
                .args(argv.iter())
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot run ssh (is openssh-client installed?): {e}"),
                    )
                })?;
            let missing = || io::Error::other("ssh started without its pipes");
            let stdin = child.stdin.take().ok_or_else(missing)?;
            let stdout = child.stdout.take().ok_or_else(missing)?;
            if let Some(stderr) = child.stderr.take() {
                // Counted before the reader starts, so `said` waits for it.
                if let Ok(mut c) = diagnostics.0.lock() {
                    c.open += 1;
                }
                tokio::spawn(collect(stderr, diagnostics));
            }
            Ok(SshStream {
                _child: child,
                stdin: Some(TokioIo::new(stdin)),
                stdout: TokioIo::new(stdout),
            })
        })
    }
}

/// Reads one ssh's stderr into `diagnostics`, bounded, without control
/// characters (a server's banner is someone else's text).
async fn collect(mut stderr: tokio::process::ChildStderr, diagnostics: SshDiagnostics) {
    let mut kept = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = stderr.read(&mut buf).await {
        if n == 0 {
            break;
        }
        let room = STDERR_LIMIT.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
    }
    let text: String = String::from_utf8_lossy(&kept)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if let Ok(mut c) = diagnostics.0.lock() {
        c.open = c.open.saturating_sub(1);
        if !text.trim().is_empty() {
            c.text = text;
        }
    }
}

/// A connection: ssh's stdin and stdout.
struct SshStream {
    /// Killed when the connection is dropped.
    _child: Child,
    /// None once shut down.
    stdin: Option<TokioIo<ChildStdin>>,
    stdout: TokioIo<ChildStdout>,
}

impl SshStream {
    fn stdin(self: Pin<&mut Self>) -> io::Result<Pin<&mut TokioIo<ChildStdin>>> {
        self.get_mut()
            .stdin
            .as_mut()
            .map(Pin::new)
            .ok_or_else(|| io::ErrorKind::BrokenPipe.into())
    }
}

impl hyper::rt::Read for SshStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stdout).poll_read(cx, buf)
    }
}

impl hyper::rt::Write for SshStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.stdin()?.poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stdin.as_mut() {
            Some(stdin) => Pin::new(stdin).poll_flush(cx),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // A pipe has no half-close: closing ssh's stdin is what ends the
        // remote dial-stdio's input (an exec's stdin), so it is dropped.
        if let Some(stdin) = self.as_mut().get_mut().stdin.as_mut() {
            std::task::ready!(Pin::new(stdin).poll_shutdown(cx))?;
        }
        self.get_mut().stdin = None;
        Poll::Ready(Ok(()))
    }
}

impl Connection for SshStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}
