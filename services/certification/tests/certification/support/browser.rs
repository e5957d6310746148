//! The verify page as people get it: through headless Chromium (the DOM after
//! load, and what its console said, where CSP refusals are reported), through
//! a bare HTTP/1.1 request (the headers), and framed by another site.

use std::net::SocketAddr;

/// A page as Chromium loaded it.
pub(crate) struct Browsed {
    /// The DOM after load.
    pub dom: String,
    /// The console's messages, one a line.
    pub console: Vec<String>,
}

/// Loads `url` in headless Chromium. Async: the service answering it runs
/// on the test's runtime.
pub(crate) async fn browse_page(url: &str) -> Browsed {
    let profile = std::env::temp_dir().join(format!("ocop-chromium-{}", uuid_like()));
    let output = tokio::process::Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            // The console goes to standard error.
            "--enable-logging=stderr",
            "--v=0",
            &format!("--user-data-dir={}", profile.display()),
            "--dump-dom",
            url,
        ])
        .kill_on_drop(true)
        .output()
        .await
        .expect("chromium runs (./dev test installs Debian's chromium package)");
    std::fs::remove_dir_all(profile).ok();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "chromium: {stderr}");
    Browsed {
        dom: String::from_utf8(output.stdout).expect("utf-8 DOM"),
        console: stderr
            .lines()
            .filter(|l| l.contains(":CONSOLE"))
            .map(str::to_owned)
            .collect(),
    }
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    )
}

/// A bare HTTP/1.1 `method` of `path`: the whole answer, head included.
pub(crate) async fn http(addr: SocketAddr, method: &str, path: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let request = format!("{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    answer
}

/// Serves, on a port of its own (so another origin), a page that frames
/// `url`, as a forger's site would; answers until the test ends.
pub(crate) async fn framing_site(url: &str) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let body =
        format!("<!doctype html><html><body><h1>Hàng chính hãng</h1><iframe src=\"{url}\"></iframe></body></html>");
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request).await;
            let answer = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(answer.as_bytes()).await;
        }
    });
    addr
}
