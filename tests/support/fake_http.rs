//! A tiny HTTP/1.1 server on loopback for the chat-provider fakes: each request is recorded
//! and answered by a handler that speaks one provider's documented contract.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path with its query string.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
    pub fn query(&self, key: &str) -> Option<String> {
        let q = self.target.split_once('?')?.1;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k) == key).then(|| decode(v))
        })
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
    /// The parts of a `multipart/form-data` body (RFC 7578), in order; empty if the body is
    /// not multipart or is malformed (a missing boundary, a part without a name).
    pub fn multipart(&self) -> Vec<Part> {
        let Some(ct) = self.header("content-type") else {
            return Vec::new();
        };
        if !ct.to_ascii_lowercase().starts_with("multipart/form-data") {
            return Vec::new();
        }
        let Some(boundary) = ct
            .split(';')
            .filter_map(|p| p.trim().strip_prefix("boundary="))
            .next()
            .map(|b| b.trim_matches('"').to_string())
        else {
            return Vec::new();
        };
        let delimiter = format!("--{boundary}").into_bytes();
        let body = &self.body;
        let mut starts = Vec::new();
        let mut i = 0;
        while i + delimiter.len() <= body.len() {
            if body[i..].starts_with(&delimiter) {
                starts.push(i);
                i += delimiter.len();
            } else {
                i += 1;
            }
        }
        let mut parts = Vec::new();
        for w in starts.windows(2) {
            let chunk = &body[w[0] + delimiter.len()..w[1]];
            // Each part: CRLF, headers, CRLF CRLF, data, CRLF (before the next delimiter).
            let Some(chunk) = chunk.strip_prefix(b"\r\n") else {
                return Vec::new();
            };
            let Some(chunk) = chunk.strip_suffix(b"\r\n") else {
                return Vec::new();
            };
            let Some(split) = chunk.windows(4).position(|w| w == b"\r\n\r\n") else {
                return Vec::new();
            };
            let head = String::from_utf8_lossy(&chunk[..split]).into_owned();
            let data = chunk[split + 4..].to_vec();
            let mut part = Part {
                name: String::new(),
                filename: None,
                content_type: None,
                data,
            };
            for line in head.split("\r\n") {
                let Some((k, v)) = line.split_once(':') else {
                    continue;
                };
                if k.trim().eq_ignore_ascii_case("content-disposition") {
                    for attr in v.split(';').skip(1) {
                        let Some((ak, av)) = attr.trim().split_once('=') else {
                            continue;
                        };
                        let av = av.trim().trim_matches('"').to_string();
                        match ak.trim() {
                            "name" => part.name = av,
                            "filename" => part.filename = Some(av),
                            _ => {}
                        }
                    }
                } else if k.trim().eq_ignore_ascii_case("content-type") {
                    part.content_type = Some(v.trim().to_string());
                }
            }
            if part.name.is_empty() {
                return Vec::new();
            }
            parts.push(part);
        }
        // The last delimiter must close the body.
        if let Some(&last) = starts.last()
            && !body[last + delimiter.len()..].starts_with(b"--")
        {
            return Vec::new();
        }
        parts
    }

    /// The multipart part called `name`.
    pub fn part(&self, name: &str) -> Option<Part> {
        self.multipart().into_iter().find(|p| p.name == name)
    }

    /// A text field of a multipart body.
    pub fn part_text(&self, name: &str) -> Option<String> {
        self.part(name)
            .filter(|p| p.filename.is_none())
            .map(|p| String::from_utf8_lossy(&p.data).into_owned())
    }

    /// A form field of an `application/x-www-form-urlencoded` body.
    pub fn form(&self, key: &str) -> Option<String> {
        let body = String::from_utf8_lossy(&self.body);
        body.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k) == key).then(|| decode(v))
        })
    }
}

/// One part of a multipart body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    pub name: String,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub data: Vec<u8>,
}

pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex =
                    std::str::from_utf8(&bytes[i + 1..(i + 3).min(bytes.len())]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct Response {
    pub status: u16,
    pub content_type: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(status: u16, value: serde_json::Value) -> Response {
        Response {
            status,
            content_type: "application/json".into(),
            headers: Vec::new(),
            body: value.to_string().into_bytes(),
        }
    }
    pub fn bytes(content_type: &str, body: &[u8]) -> Response {
        Response {
            status: 200,
            content_type: content_type.into(),
            headers: Vec::new(),
            body: body.to_vec(),
        }
    }
    pub fn status(status: u16) -> Response {
        Response {
            status,
            content_type: "text/plain".into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
}

pub type Handler = Arc<dyn Fn(&Request) -> Response + Send + Sync>;

pub struct FakeServer {
    pub port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
}

impl FakeServer {
    pub fn start(handler: Handler) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let handler = handler.clone();
                let seen = seen.clone();
                std::thread::spawn(move || serve(stream, handler, seen));
            }
        });
        FakeServer { port, requests }
    }

    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests whose path ends with `suffix`.
    pub fn calls(&self, suffix: &str) -> Vec<Request> {
        self.requests()
            .into_iter()
            .filter(|r| r.path().ends_with(suffix))
            .collect()
    }
}

fn serve(stream: TcpStream, handler: Handler, seen: Arc<Mutex<Vec<Request>>>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let method = parts.next().unwrap_or("").to_string();
        let target = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h).unwrap_or(0) == 0 {
                return;
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        let len = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let request = Request {
            method,
            target,
            headers,
            body,
        };
        seen.lock().unwrap().push(request.clone());
        let response = handler(&request);
        let mut out = format!(
            "HTTP/1.1 {} X\r\nContent-Type: {}\r\nContent-Length: {}\r\n",
            response.status,
            response.content_type,
            response.body.len()
        );
        for (k, v) in &response.headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("\r\n");
        let mut w = &stream;
        if w.write_all(out.as_bytes()).is_err() || w.write_all(&response.body).is_err() {
            return;
        }
    }
}
