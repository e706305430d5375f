//! Test helpers shared by the workspace's crates (dev-dependency only, never published): a
//! scripted HTTP/1.1 server for tests whose answers must change from one request to the next
//! (a 429 then a 200), or that must read a request and never answer or drop the connection;
//! hostile answers ([`hostile`]); a fuzzing server with proptest strategies for answers
//! ([`fuzz`]); the TRACE secret sweep ([`sweep`]); HTTP settings for paused-time tests; and
//! the conformance suite of the shared stores ([`stores`]); with the feature `facade`, the
//! helpers of commerce-facade's tests and benchmarks (`facade`: every provider against the
//! sandbox); with `overhead`, the page of commerce-core's overhead benchmark (`overhead`).
//! httpmock serves the wire-shape tests; this serves the stateful ones.
#![warn(missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::time::Instant;

/// The conformance suite of the shared stores (memory, SQLite, PostgreSQL).
pub mod stores;

#[cfg(feature = "facade")]
pub mod facade;

#[cfg(feature = "overhead")]
pub mod overhead;

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// Answer with this status, headers and body.
    Respond {
        /// The HTTP status.
        status: u16,
        /// Header names and values, in order.
        headers: Vec<(String, String)>,
        /// The body as sent.
        body: String,
    },
    /// Read the request in full, then hold the connection without answering.
    Stall,
    /// Read the request in full, then close the connection without answering.
    Drop,
    /// Write these bytes as they are (status line, headers, body: malformed ones too), then
    /// close the connection.
    Raw(Vec<u8>),
    /// Write these bytes (say, only the head of an answer), then hold the connection open
    /// without writing more.
    Stalling(Vec<u8>),
    /// Write this head (status line and headers, `hostile::head`), then body bytes without
    /// end until the client hangs up.
    Endless(String),
    /// Write these bytes one at a time, `every` apart (a slow-loris answer).
    Trickle {
        /// The whole answer, head and body.
        bytes: Vec<u8>,
        /// The pause before each byte.
        every: Duration,
    },
}

impl Reply {
    /// An answer with this status, no header and an empty body.
    pub fn status(status: u16) -> Self {
        Reply::Respond {
            status,
            headers: Vec::new(),
            body: String::new(),
        }
    }

    /// An answer with this status and a JSON body (`content-type: application/json`).
    pub fn json(status: u16, body: &str) -> Self {
        Reply::Respond {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: body.into(),
        }
    }

    /// The same answer with one more header (nothing for replies other than `Respond`).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        if let Reply::Respond { headers, .. } = &mut self {
            headers.push((name.into(), value.into()));
        }
        self
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The method (`GET`, `POST`).
    pub method: String,
    /// The request target: the path and the query.
    pub target: String,
    /// Header names (as sent) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body as received.
    pub body: Vec<u8>,
    /// When it was read in full (tokio's clock, so paused time shows).
    pub at: Instant,
}

impl Recorded {
    /// The value of the first header named `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The retry policy of wire tests: 2 retries, 5 ms doubling to 20 ms, so a test that
/// retries stays fast.
pub fn fast_retry() -> commerce_core::RetryPolicy {
    commerce_core::RetryPolicy::default()
        .with_max_retries(2)
        .with_delays(Duration::from_millis(5), Duration::from_millis(20))
}

/// HTTP settings for paused-time tests: no per-attempt time limit and no idle pooling,
/// so no timer of the HTTP stack fires while the runtime waits on a socket.
pub fn paused_time_http() -> commerce_core::HttpClient {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    commerce_core::HttpClient::new("commerce-core-tests", "0.0.0")
        .with_client(client)
        .with_timeout(None)
}

/// A loopback HTTP/1.1 server answering each request with the next of its [`Reply`]s, and
/// keeping every request it read.
pub struct ScriptedServer {
    /// Its base URL (`http://127.0.0.1:PORT`).
    pub url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

impl ScriptedServer {
    /// Serves `replies` in order, one per request; the last one repeats.
    pub async fn start(replies: Vec<Reply>) -> Self {
        assert!(!replies.is_empty());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let log = requests.clone();
        let replies = Arc::new(replies);
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let replies = replies.clone();
                tokio::spawn(async move {
                    let (read, mut write) = socket.into_split();
                    let mut reader = BufReader::new(read);
                    let Some(recorded) = read_request(&mut reader).await else {
                        return;
                    };
                    let reply = {
                        let mut log = log.lock().unwrap();
                        log.push(recorded);
                        replies[(log.len() - 1).min(replies.len() - 1)].clone()
                    };
                    match reply {
                        Reply::Respond {
                            status,
                            headers,
                            body,
                        } => {
                            let mut head = format!(
                                "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                                body.len()
                            );
                            for (k, v) in headers {
                                head.push_str(&format!("{k}: {v}\r\n"));
                            }
                            head.push_str("\r\n");
                            // One request per connection: no idle connection (and so no pool
                            // timer) is left behind to disturb paused-time tests.
                            let _ = write.write_all(head.as_bytes()).await;
                            let _ = write.write_all(body.as_bytes()).await;
                        }
                        Reply::Stall => tokio::time::sleep(Duration::from_secs(3600)).await,
                        Reply::Drop => {}
                        Reply::Raw(bytes) => {
                            let _ = write.write_all(&bytes).await;
                        }
                        Reply::Stalling(bytes) => {
                            let _ = write.write_all(&bytes).await;
                            tokio::time::sleep(Duration::from_secs(3600)).await;
                        }
                        Reply::Endless(head) => {
                            if write.write_all(head.as_bytes()).await.is_err() {
                                return;
                            }
                            let chunk = vec![b'x'; 64 * 1024];
                            let chunked = head.to_ascii_lowercase().contains("transfer-encoding: chunked");
                            let frame = if chunked {
                                let mut f = format!("{:x}\r\n", chunk.len()).into_bytes();
                                f.extend_from_slice(&chunk);
                                f.extend_from_slice(b"\r\n");
                                f
                            } else {
                                chunk
                            };
                            // Until the client hangs up.
                            while write.write_all(&frame).await.is_ok() {}
                        }
                        Reply::Trickle { bytes, every } => {
                            for b in bytes {
                                if write.write_all(&[b]).await.is_err() {
                                    return;
                                }
                                tokio::time::sleep(every).await;
                            }
                        }
                    }
                });
            }
        });
        ScriptedServer { url, requests }
    }

    /// Every request read so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// How many requests were read so far.
    pub fn count(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

async fn read_request<R: tokio::io::AsyncRead + Unpin>(reader: &mut BufReader<R>) -> Option<Recorded> {
    let mut line = String::new();
    if reader.read_line(&mut line).await.ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).await.ok()?;
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':')?;
        headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).await.ok()?;
    Some(Recorded {
        method,
        target,
        headers,
        body,
        at: Instant::now(),
    })
}

/// Hostile answers: heads to write by hand, and bodies that are not what they seem.
pub mod hostile {
    use std::io::Write as _;

    /// Runs `f`, failing the test if it takes longer than `secs` of real time: a client
    /// against a hostile server must give up in bounded time.
    pub async fn within<T>(secs: u64, f: impl std::future::Future<Output = T>) -> T {
        tokio::time::timeout(std::time::Duration::from_secs(secs), f)
            .await
            .expect("the client must give up in bounded time")
    }

    /// The head of an answer: status line, these headers, `connection: close`, and the
    /// blank line. Nothing is added: no `content-length` unless given.
    pub fn head(status: u16, headers: &[(&str, &str)]) -> String {
        let mut head = format!("HTTP/1.1 {status} X\r\nconnection: close\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        head
    }

    /// A whole answer: the head with a `content-length`, and the body.
    pub fn answer(status: u16, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let len = body.len().to_string();
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.push(("content-length", &len));
        let mut bytes = head(status, &all).into_bytes();
        bytes.extend_from_slice(body);
        bytes
    }

    /// `data` gzip-compressed.
    pub fn gzip(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A gzip body that inflates to `inflated` zero bytes, about a thousandth of that
    /// compressed (written a megabyte at a time, so building it holds little).
    pub fn gzip_bomb(inflated: usize) -> Vec<u8> {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let block = vec![0u8; 1 << 20];
        let mut left = inflated;
        while left > 0 {
            let n = left.min(block.len());
            e.write_all(&block[..n]).unwrap();
            left -= n;
        }
        e.finish().unwrap()
    }
}

/// Fuzzing the response decoders: a server that answers every request with whatever the
/// test set last, and proptest strategies for answers (arbitrary bytes, fixtures mutated
/// byte-wise and structurally, truncated fixtures, odd statuses and media types).
pub mod fuzz {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// One answer of the fuzzing server.
    #[derive(Debug, Clone)]
    pub struct Answer {
        /// The HTTP status.
        pub status: u16,
        /// The `content-type`, if any.
        pub content_type: Option<String>,
        /// Further header names and values.
        pub headers: Vec<(String, String)>,
        /// The body as sent.
        pub body: Vec<u8>,
    }

    impl Answer {
        /// A JSON answer with this status and body.
        pub fn json(status: u16, body: &str) -> Self {
            Answer {
                status,
                content_type: Some("application/json".into()),
                headers: Vec::new(),
                body: body.as_bytes().to_vec(),
            }
        }
    }

    /// Answers each request with the answer of the first fixed route whose path prefix
    /// matches, else with the current answer.
    pub struct FuzzServer {
        /// Its base URL (`http://127.0.0.1:PORT`).
        pub url: String,
        current: Arc<Mutex<Answer>>,
        fixed: Arc<Mutex<Vec<(String, Answer)>>>,
        seen: Arc<Mutex<u64>>,
    }

    impl FuzzServer {
        /// Starts on a loopback port, answering `200 {}` until [`FuzzServer::set`].
        pub async fn start() -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}", listener.local_addr().unwrap());
            let current = Arc::new(Mutex::new(Answer::json(200, "{}")));
            let fixed: Arc<Mutex<Vec<(String, Answer)>>> = Arc::default();
            let seen: Arc<Mutex<u64>> = Arc::default();
            let (c, f, n) = (current.clone(), fixed.clone(), seen.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((socket, _)) = listener.accept().await else {
                        return;
                    };
                    let (c, f, n) = (c.clone(), f.clone(), n.clone());
                    tokio::spawn(async move {
                        let (read, mut write) = socket.into_split();
                        let mut reader = BufReader::new(read);
                        let Some(request) = read_request(&mut reader).await else {
                            return;
                        };
                        let path = request.target.split('?').next().unwrap_or("").to_owned();
                        let fixed = f
                            .lock()
                            .unwrap()
                            .iter()
                            .find(|(prefix, _)| path.starts_with(prefix.as_str()))
                            .map(|(_, a)| a.clone());
                        let answer = fixed.unwrap_or_else(|| {
                            // Only a request given the fuzzed answer counts as reaching a
                            // decoder (a fixed token or login answer does not).
                            *n.lock().unwrap() += 1;
                            c.lock().unwrap().clone()
                        });
                        let mut head = format!(
                            "HTTP/1.1 {} X\r\ncontent-length: {}\r\nconnection: close\r\n",
                            answer.status,
                            answer.body.len()
                        );
                        if let Some(t) = &answer.content_type {
                            head.push_str(&format!("content-type: {t}\r\n"));
                        }
                        for (k, v) in &answer.headers {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        let _ = write.write_all(head.as_bytes()).await;
                        let _ = write.write_all(&answer.body).await;
                    });
                }
            });
            FuzzServer {
                url,
                current,
                fixed,
                seen,
            }
        }

        /// Answers requests whose path starts with `prefix` with `answer` from now on.
        pub fn fix(&self, prefix: &str, answer: Answer) {
            self.fixed.lock().unwrap().push((prefix.to_owned(), answer));
        }

        /// Answers every other request with `answer` from now on.
        pub fn set(&self, answer: Answer) {
            *self.current.lock().unwrap() = answer;
        }

        /// Requests answered with the current (fuzzed) answer so far; requests a fixed
        /// route answered are not counted.
        pub fn requests(&self) -> u64 {
            *self.seen.lock().unwrap()
        }
    }

    /// Statuses worth decoding: successes, the provider errors, throttling, outages, and
    /// a few nobody documents.
    pub const STATUSES: &[u16] = &[
        200, 200, 200, 201, 202, 204, 207, 304, 400, 401, 403, 404, 405, 409, 415, 422, 429, 500, 502, 503,
        599,
    ];

    fn leaf() -> impl Strategy<Value = Value> {
        prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            ".{0,12}".prop_map(Value::String),
            Just(Value::String(String::new())),
            Just(Value::Array(Vec::new())),
            Just(Value::Object(Default::default())),
            Just(serde_json::json!([{}, null, 1, "x"])),
        ]
    }

    fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
        match v {
            Value::Array(a) => {
                for (i, x) in a.iter().enumerate() {
                    pointers(x, format!("{at}/{i}"), out);
                }
            }
            Value::Object(o) => {
                for (k, x) in o {
                    let k = k.replace('~', "~0").replace('/', "~1");
                    pointers(x, format!("{at}/{k}"), out);
                }
            }
            _ => {}
        }
        out.push(at);
    }

    /// Replaces one node (chosen by `pick`) of a JSON fixture, or drops one member.
    fn mutate_json(fixture: &[u8], pick: usize, replacement: Value, drop: bool) -> Vec<u8> {
        let Ok(mut v) = serde_json::from_slice::<Value>(fixture) else {
            return fixture.to_vec();
        };
        let mut all = Vec::new();
        pointers(&v, String::new(), &mut all);
        let target = all[pick % all.len()].clone();
        if drop && let Some((parent, key)) = target.rsplit_once('/') {
            match v.pointer_mut(parent) {
                Some(Value::Object(o)) => {
                    o.remove(&key.replace("~1", "/").replace("~0", "~"));
                }
                Some(Value::Array(a)) => {
                    if let Ok(i) = key.parse::<usize>()
                        && i < a.len()
                    {
                        a.remove(i);
                    }
                }
                _ => {}
            }
        } else if let Some(node) = v.pointer_mut(&target) {
            *node = replacement;
        }
        serde_json::to_vec(&v).unwrap()
    }

    /// Byte-wise edits: overwrite, insert or delete at positions chosen by the seeds.
    fn mutate_bytes(fixture: &[u8], edits: Vec<(usize, u8, u8)>) -> Vec<u8> {
        let mut b = fixture.to_vec();
        for (at, op, byte) in edits {
            let i = if b.is_empty() { 0 } else { at % b.len() };
            match op % 3 {
                0 if !b.is_empty() => b[i] = byte,
                1 => b.insert(i, byte),
                _ if !b.is_empty() => {
                    b.remove(i);
                }
                _ => b.push(byte),
            }
        }
        b
    }

    /// Bodies: arbitrary bytes, fixtures mutated structurally or byte-wise, truncated, or
    /// the fixtures themselves.
    pub fn bodies(fixtures: Vec<Vec<u8>>) -> BoxedStrategy<Vec<u8>> {
        assert!(!fixtures.is_empty());
        let f = proptest::sample::select(fixtures);
        prop_oneof![
            2 => proptest::collection::vec(any::<u8>(), 0..300),
            1 => "[ -~]{0,80}".prop_map(String::into_bytes),
            4 => (f.clone(), any::<usize>(), leaf(), proptest::bool::weighted(0.3))
                .prop_map(|(f, pick, leaf, drop)| mutate_json(&f, pick, leaf, drop)),
            2 => (f.clone(), proptest::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..6))
                .prop_map(|(f, edits)| mutate_bytes(&f, edits)),
            1 => (f.clone(), any::<usize>()).prop_map(|(f, cut)| {
                let n = if f.is_empty() { 0 } else { cut % f.len() };
                f[..n].to_vec()
            }),
            1 => f,
        ]
        .boxed()
    }

    /// Whole answers: a status from [`STATUSES`], one of `content_types` (or none), and a
    /// body from [`bodies`].
    pub fn answers(fixtures: Vec<Vec<u8>>, content_types: &[&str]) -> BoxedStrategy<Answer> {
        let mut types: Vec<Option<String>> = content_types.iter().map(|t| Some((*t).to_owned())).collect();
        types.push(Some("text/html".into()));
        types.push(None);
        (
            proptest::sample::select(STATUSES),
            proptest::sample::select(types),
            bodies(fixtures),
        )
            .prop_map(|(status, content_type, body)| Answer {
                status,
                content_type,
                headers: Vec::new(),
                body,
            })
            .boxed()
    }

    /// The fixtures of a crate's `tests/fixtures` folder (every file, as bytes).
    pub fn fixtures_in(dir: &std::path::Path) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = std::fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_file())
            .map(|e| std::fs::read(e.path()).unwrap())
            .collect();
        out.sort();
        out
    }

    /// `PROPTEST_CASES` if set, else `default`.
    pub fn cases(default: u32) -> u32 {
        std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    /// Runs `cases` answers (or `PROPTEST_CASES`) from `strategy` through `check`; a panic
    /// anywhere in a decoder fails the test with the shrunk answer that caused it.
    pub fn run_cases<S, F>(cases: u32, strategy: S, check: F)
    where
        S: Strategy,
        S::Value: std::fmt::Debug,
        F: Fn(S::Value),
    {
        let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
            cases: self::cases(cases),
            failure_persistence: None,
            // Deterministic: the same answers on every run (`PROPTEST_RNG_SEED` is not read
            // here; change this seed, or the cases, to explore further).
            rng_seed: proptest::test_runner::RngSeed::Fixed(0x00C0_FFEE),
            ..Default::default()
        });
        if let Err(e) = runner.run(&strategy, |v| {
            check(v);
            Ok(())
        }) {
            panic!("{e}");
        }
    }

    /// The calls of one fuzz case, each noted with whether it made a request (so
    /// [`Harness::run`] can check every call of the list against the server, with no
    /// hand-counted number).
    #[derive(Debug)]
    pub struct Calls {
        seen: Arc<Mutex<u64>>,
        reached: Vec<bool>,
    }

    impl Calls {
        fn requests(&self) -> u64 {
            *self.seen.lock().unwrap()
        }

        /// Awaits one call, drops its result (only a panic matters here) and notes whether
        /// it made a request.
        pub async fn send<T>(&mut self, call: impl std::future::Future<Output = T>) {
            let before = self.requests();
            let _ = call.await;
            let reached = self.requests() > before;
            self.reached.push(reached);
        }

        /// Awaits a call that may be answered without a request (from what the client
        /// remembers, or cut by a short deadline), so it is not checked.
        pub async fn may_not_send<T>(&mut self, call: impl std::future::Future<Output = T>) {
            let _ = call.await;
        }
    }

    /// A crate's decoder test: a current-thread runtime and a fuzzing server whose fixed
    /// routes (a token or login endpoint) answer well, the crate's secrets noted for the
    /// sweep.
    pub struct Harness {
        /// The runtime the calls run on.
        pub rt: tokio::runtime::Runtime,
        /// The server answering them.
        pub server: FuzzServer,
    }

    impl Harness {
        /// Notes `secrets` for the sweep and starts the server with the `fixed` routes
        /// (path prefix, answer).
        pub fn start(secrets: &[&str], fixed: &[(&str, Answer)]) -> Self {
            super::sweep::install(secrets);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let server = rt.block_on(FuzzServer::start());
            for (prefix, answer) in fixed {
                server.fix(prefix, answer.clone());
            }
            Harness { rt, server }
        }

        /// Serves each of `cases` answers of `strategy` in turn while `calls` runs, then
        /// checks that each call it sent through [`Calls::send`] made a request in at least
        /// one case (so every decoder was reached, not skipped by a failure before sending).
        /// The list is the calls themselves: nothing is counted by hand.
        pub fn run<F>(&self, cases: u32, strategy: BoxedStrategy<Answer>, calls: F)
        where
            F: Fn(&mut Calls),
        {
            let reached = Mutex::new(Vec::<bool>::new());
            run_cases(cases, strategy, |answer| {
                self.server.set(answer);
                let mut case = Calls {
                    seen: self.server.seen.clone(),
                    reached: Vec::new(),
                };
                calls(&mut case);
                let mut all = reached.lock().unwrap();
                if all.len() < case.reached.len() {
                    all.resize(case.reached.len(), false);
                }
                for (seen, now) in all.iter_mut().zip(case.reached) {
                    *seen |= now;
                }
            });
            let reached = reached.into_inner().unwrap();
            assert!(!reached.is_empty(), "no call was sent");
            let never: Vec<usize> = (0..reached.len()).filter(|&i| !reached[i]).collect();
            assert!(
                never.is_empty(),
                "calls {never:?} (counted from 0, in the order sent) never reached the server in {} cases",
                self::cases(cases)
            );
        }
    }
}

/// The secret sweep: with `COMMERCE_TRACE_SWEEP=<dir>` set, [`sweep::install`] sends every
/// client-side `tracing` event and `log` record of the test process, at TRACE, to
/// `<dir>/trace-<pid>.log`, and notes the test's configured secrets in
/// `<dir>/secrets-<pid>.txt`. `cargo xtask sweep <dir>` then checks that no secret noted by
/// any test appears in any trace. Without the variable it does nothing.
pub mod sweep {
    use std::collections::HashSet;
    use std::io::Write;
    use std::path::PathBuf;
    use std::sync::{Mutex, OnceLock};

    use tracing_subscriber::filter::{LevelFilter, Targets};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    /// The variable naming the sweep's folder.
    pub const VAR: &str = "COMMERCE_TRACE_SWEEP";

    /// Server-side targets of the test servers (httpmock, the sandbox, axum): they log what
    /// they receive, which includes the credentials a client must send.
    pub const SERVER_TARGETS: &[&str] = &[
        "httpmock",
        "axum",
        "tower_http",
        "commerce_sandbox",
        "hyper::server",
    ];

    struct Sweep {
        dir: PathBuf,
        noted: Mutex<HashSet<String>>,
    }

    fn sweep() -> Option<&'static Sweep> {
        static SWEEP: OnceLock<Option<Sweep>> = OnceLock::new();
        SWEEP
            .get_or_init(|| {
                let dir = PathBuf::from(std::env::var_os(VAR)?);
                std::fs::create_dir_all(&dir).expect("the sweep folder");
                let file = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(dir.join(format!("trace-{}.log", std::process::id())))
                    .expect("the trace file");
                let file = std::sync::Arc::new(Mutex::new(file));
                let mut targets = Targets::new().with_default(LevelFilter::TRACE);
                for t in SERVER_TARGETS {
                    targets = targets.with_target(*t, LevelFilter::OFF);
                }
                let layer = tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .with_writer(move || Appender(file.clone()))
                    .with_filter(targets);
                // `try_init` also routes `log` records (reqwest's) into tracing.
                let _ = tracing_subscriber::registry().with(layer).try_init();
                Some(Sweep {
                    dir,
                    noted: Mutex::new(HashSet::new()),
                })
            })
            .as_ref()
    }

    use tracing_subscriber::Layer as _;

    struct Appender(std::sync::Arc<Mutex<std::fs::File>>);

    impl Write for Appender {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|p| p.into_inner()).write(buf)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Captures this process's client traffic at TRACE (once) and notes `secrets` as
    /// configured, when the sweep is on.
    pub fn install(secrets: &[&str]) {
        let Some(s) = sweep() else {
            return;
        };
        let mut noted = s.noted.lock().unwrap_or_else(|p| p.into_inner());
        let fresh: Vec<&str> = secrets
            .iter()
            .copied()
            .filter(|x| !x.is_empty() && noted.insert((*x).to_owned()))
            .collect();
        if fresh.is_empty() {
            return;
        }
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(s.dir.join(format!("secrets-{}.txt", std::process::id())))
            .expect("the secrets file");
        for x in fresh {
            writeln!(f, "{x}").expect("noted");
        }
    }
}
