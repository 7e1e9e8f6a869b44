//! The tunnel binaries against Debian's kcptun on the other side, both ways, over loopback.

mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use support::{Proc, echo_server, free_tcp, free_udp, have, pattern};

const CLIENT: &str = env!("CARGO_BIN_EXE_tunnel-client");
const SERVER: &str = env!("CARGO_BIN_EXE_tunnel-server");
const TUNNEL: &str = env!("CARGO_BIN_EXE_tunnel");

/// The flags both ends must share, as one cell of the interop matrix.
struct Cell {
    crypt: &'static str,
    fec: (u32, u32),
    smuxver: u8,
    comp: bool,
    mode: &'static str,
}

impl Cell {
    fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = [
            "--key",
            "examples-interop",
            "--crypt",
            self.crypt,
            "--mode",
            self.mode,
            "--datashard",
            &self.fec.0.to_string(),
            "--parityshard",
            &self.fec.1.to_string(),
            "--smuxver",
            &self.smuxver.to_string(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if !self.comp {
            a.push("--nocomp".into());
        }
        a
    }
}

/// A few cells so that every value of every shared setting appears at least once in CI.
fn cells() -> Vec<Cell> {
    vec![
        Cell {
            crypt: "aes",
            fec: (10, 3),
            smuxver: 1,
            comp: true,
            mode: "fast",
        },
        Cell {
            crypt: "salsa20",
            fec: (0, 0),
            smuxver: 2,
            comp: false,
            mode: "fast3",
        },
        Cell {
            crypt: "none",
            fec: (10, 3),
            smuxver: 2,
            comp: true,
            mode: "normal",
        },
        Cell {
            crypt: "xor",
            fec: (0, 0),
            smuxver: 1,
            comp: false,
            mode: "fast2",
        },
    ]
}

fn server_args(listen: SocketAddr, target: SocketAddr, cell: &Cell) -> Vec<String> {
    let mut a = vec![
        "-l".into(),
        listen.to_string(),
        "-t".into(),
        target.to_string(),
    ];
    a.extend(cell.args());
    a
}

fn client_args(local: SocketAddr, remote: SocketAddr, cell: &Cell) -> Vec<String> {
    let mut a = vec![
        "-l".into(),
        local.to_string(),
        "-r".into(),
        remote.to_string(),
    ];
    a.extend(cell.args());
    a
}

/// Sends `len` bytes through the tunnel's TCP entry and checks that the echo comes back intact, on
/// `conns` connections at once.
fn echo_through(entry: SocketAddr, len: usize, conns: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let handles: Vec<_> = (0..conns)
        .map(|i| {
            std::thread::spawn(move || {
                let data = pattern(len, i as u64 + 7);
                let mut s = TcpStream::connect(entry).expect("connect to tunnel entry");
                s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
                let mut w = s.try_clone().unwrap();
                let d2 = data.clone();
                let writer = std::thread::spawn(move || w.write_all(&d2).expect("write"));
                let mut got = vec![0u8; len];
                s.read_exact(&mut got)
                    .expect("echo did not come back in time");
                writer.join().unwrap();
                assert!(got == data, "echo differs on connection {i}");
            })
        })
        .collect();
    for h in handles {
        h.join().expect("connection failed");
    }
    assert!(Instant::now() < deadline, "transfer took too long");
}

#[test]
fn our_server_with_kcptun_client() {
    if !have("kcptun-client") {
        return;
    }
    let echo = echo_server();
    for cell in cells() {
        let udp = free_udp();
        let _server = Proc::start(SERVER, &server_args(udp, echo, &cell), "listening on:");
        let local = free_tcp();
        let _client = Proc::start(
            "kcptun-client",
            &client_args(local, udp, &cell),
            "key derivation done",
        );
        echo_through(local, 256 * 1024, 3);
        eprintln!(
            "ok: ours server, kcptun client, {} {:?} v{} comp={}",
            cell.crypt, cell.fec, cell.smuxver, cell.comp
        );
    }
}

#[test]
fn kcptun_server_with_our_client() {
    if !have("kcptun-server") {
        return;
    }
    let echo = echo_server();
    for cell in cells() {
        let udp = free_udp();
        let _server = Proc::start(
            "kcptun-server",
            &server_args(udp, echo, &cell),
            "key derivation done",
        );
        let local = free_tcp();
        let _client = Proc::start(CLIENT, &client_args(local, udp, &cell), "listening on:");
        echo_through(local, 256 * 1024, 3);
        eprintln!(
            "ok: kcptun server, ours client, {} {:?} v{} comp={}",
            cell.crypt, cell.fec, cell.smuxver, cell.comp
        );
    }
}

/// The same config file kcptun-client reads works for ours (program keys included), and kcptun-style
/// single-dash flags are accepted.
#[test]
fn json_config_and_go_style_flags() {
    if !have("kcptun-server") {
        return;
    }
    let echo = echo_server();
    let udp = free_udp();
    let _server = Proc::start(
        "kcptun-server",
        &[
            "-l",
            &udp.to_string(),
            "-t",
            &echo.to_string(),
            "-key",
            "from-json",
            "-crypt",
            "twofish",
            "-mode",
            "fast2",
            "-nocomp",
            "-smuxver",
            "2",
        ]
        .map(String::from),
        "key derivation done",
    );
    let local = free_tcp();
    let dir = std::env::temp_dir().join(format!("tunnel-json-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("client.json");
    std::fs::write(
        &json,
        format!(
            r#"{{"localaddr": "{local}", "remoteaddr": "{udp}", "key": "from-json", "crypt": "twofish",
                "mode": "fast2", "nocomp": true, "smuxver": 2, "conn": 2, "quiet": true}}"#
        ),
    )
    .unwrap();
    // The command line says otherwise; the file wins, as with kcptun.
    let client = Proc::start(
        TUNNEL,
        &[
            "client",
            "-c",
            json.to_str().unwrap(),
            "-key",
            "ignored",
            "-crypt=aes",
            "-l",
            "127.0.0.1:1",
        ]
        .map(String::from),
        "listening on:",
    );
    echo_through(local, 64 * 1024, 4);
    assert!(
        !client.output().contains("stream opened"),
        "--quiet from the JSON file was ignored"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `--snmplog` writes kcptun's CSV (header `Unix,BytesSent,...`) with the Go date layout expanded.
#[test]
fn snmplog_writes_csv() {
    let echo = echo_server();
    let udp = free_udp();
    let dir = std::env::temp_dir().join(format!("tunnel-snmp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let layout = dir.join("snmp-20060102.csv");
    let cell = &cells()[0];
    let mut a = server_args(udp, echo, cell);
    a.extend([
        "--snmplog".into(),
        layout.to_string_lossy().into_owned(),
        "--snmpperiod".into(),
        "1".into(),
    ]);
    let _server = Proc::start(SERVER, &a, "listening on:");
    let local = free_tcp();
    let _client = Proc::start(CLIENT, &client_args(local, udp, cell), "listening on:");
    echo_through(local, 64 * 1024, 1);
    let today = chrono::Local::now().format("%Y%m%d").to_string();
    let file = dir.join(format!("snmp-{today}.csv"));
    // The logger writes once per second; wait (bounded) for a line showing the transfer.
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let done = text.lines().skip(1).any(|l| {
            l.split(',')
                .nth(1)
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|sent| sent >= 64 * 1024)
        });
        if done || Instant::now() > deadline {
            break text;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default();
    assert!(
        header.starts_with("Unix,BytesSent,BytesReceived,MaxConn"),
        "header: {header:?}"
    );
    let cols = header.split(',').count();
    let rows: Vec<&str> = lines.collect();
    assert!(!rows.is_empty(), "no SNMP line in {}", file.display());
    assert!(rows.iter().all(|r| r.split(',').count() == cols));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Every flag kcptun's own `--help` lists is one of ours too, for both sides.
#[test]
fn help_lists_every_kcptun_flag() {
    for (theirs, ours) in [("kcptun-client", CLIENT), ("kcptun-server", SERVER)] {
        if !have(theirs) {
            return;
        }
        let help = |bin: &str| {
            let o = std::process::Command::new(bin)
                .arg("--help")
                .output()
                .unwrap();
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr)
        };
        let their_help = help(theirs);
        let our_help = help(ours);
        let mut checked = 0;
        for word in their_help.split(|c: char| c.is_whitespace() || c == ',') {
            let Some(name) = word.strip_prefix("--") else {
                continue;
            };
            if name.is_empty() {
                continue;
            }
            assert!(
                our_help.contains(&format!("--{name}")),
                "{ours} --help lacks --{name}"
            );
            checked += 1;
        }
        assert!(
            checked >= 20,
            "parsed only {checked} flags from {theirs} --help"
        );
    }
}

/// Bad settings end the program at once with a message naming the setting.
#[test]
fn bad_settings_are_named() {
    let run = |args: &[&str]| {
        let o = std::process::Command::new(CLIENT)
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--smuxver", "3"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("smuxver"), "{err}");
    let (code, err) = run(&["-c", "/nonexistent/kcptun.json"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("/nonexistent/kcptun.json"), "{err}");
    let (code, err) = run(&["--tcp"]);
    assert_eq!(code, Some(2));
    assert!(err.contains("--tcp"), "{err}");
}
