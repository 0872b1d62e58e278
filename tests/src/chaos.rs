//! Fault injection for outage tests: a TCP proxy that can cut the network to a backend,
//! a private Redis server that can be stopped and restarted empty, and the service as a
//! child process that can be killed.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Forwards connections to `upstream` until cut. Cutting closes every open connection
/// and refuses new ones, like a network partition.
pub struct ChaosProxy {
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    cut: watch::Sender<u64>,
}

impl ChaosProxy {
    pub async fn start(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy address");
        let open = Arc::new(AtomicBool::new(true));
        let (cut, _) = watch::channel(0u64);
        let (open2, cut2) = (open.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !open2.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let mut cut_rx = cut2.subscribe();
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(upstream).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = cut_rx.changed() => {}
                    }
                });
            }
        });
        ChaosProxy { addr, open, cut }
    }

    /// A proxy in front of the PostgreSQL of `url` (user@host:port/db), and `url` with
    /// the proxy in its place.
    pub async fn in_front_of(url: &str) -> (Self, String) {
        let host = url
            .rsplit_once('@')
            .and_then(|(_, rest)| rest.split_once('/').map(|(host, _)| host.to_owned()))
            .expect("a database URL of the form user@host:port/db");
        let upstream = tokio::net::lookup_host(&host)
            .await
            .expect("the database host resolves")
            .next()
            .expect("an address for the database host");
        let proxy = Self::start(upstream).await;
        let proxied = url.replace(&host, &proxy.addr.to_string());
        (proxy, proxied)
    }

    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

/// A redis-server of the test's own on a free port, with nothing persisted.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<Child>,
}

impl PrivateRedis {
    pub async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut redis = PrivateRedis { port, child: None };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Wipes everything while it keeps running (an operator's mistake, or a failover to an
    /// empty replica).
    pub async fn flush(&self) {
        let client = redis::Client::open(self.url()).expect("url");
        let mut conn = client
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the private redis");
        let _: () = redis::cmd("FLUSHALL")
            .query_async(&mut conn)
            .await
            .expect("FLUSHALL");
    }

    /// Starts (again) with an empty data set, and waits until it answers.
    pub async fn restart(&mut self) {
        self.stop();
        let child = Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        let client = redis::Client::open(self.url()).expect("url");
        for _ in 0..200 {
            if let Ok(mut conn) = client.get_multiplexed_async_connection().await
                && redis::cmd("PING")
                    .query_async::<String>(&mut conn)
                    .await
                    .is_ok()
            {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("the private redis-server did not start");
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The service binary this test build goes with (`cargo test` builds it beside the tests).
pub fn service_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    // target/<profile>/deps/api-… → target/<profile>/madoguchi
    let dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("the target folder");
    let binary = dir.join("madoguchi");
    assert!(
        binary.exists(),
        "{} is missing: run the whole `cargo test` (it builds the service binary)",
        binary.display()
    );
    binary
}

/// The real service as a child process, so that it can be killed with SIGKILL (nothing
/// of it survives, unlike an in-process server whose tasks share the test's runtime).
pub struct ServiceProcess {
    pub port: u16,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl ServiceProcess {
    /// Starts the binary with `env` (the process environment is not inherited beyond PATH)
    /// on a free port and waits until it is ready.
    pub async fn start(env: Vec<(String, String)>) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let mut service = ServiceProcess {
            port,
            env,
            child: None,
        };
        service.restart().await;
        service
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// SIGKILL: no graceful stop, nothing in flight completes.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts (again) and waits, at most 30 s, until `/health/ready` answers 200.
    pub async fn restart(&mut self) {
        self.kill();
        let child = Command::new(service_binary())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("MADOGUCHI_BIND", format!("127.0.0.1:{}", self.port))
            .env("RUST_LOG", "error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the service binary starts");
        self.child = Some(child);
        let client = reqwest::Client::new();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            if let Ok(r) = client.get(self.url("/health/ready")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the service did not become ready"
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    /// Runs the binary's CLI with this service's environment (e.g. `staff-token create`).
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new(service_binary())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("RUST_LOG", "error")
            .args(args)
            .output()
            .expect("the CLI runs");
        assert!(out.status.success(), "{args:?} failed");
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for ServiceProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
