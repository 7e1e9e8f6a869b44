//! `chat` end to end: a server and three clients (stdin/stdout piped, so the clients use plain lines),
//! directly and through the emulator at 10 % loss each way.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use netem_tests::link::{LinkConfig, Loss};
use support::{Proc, free_udp, relay};

const CHAT: &str = env!("CARGO_BIN_EXE_chat");

fn join(server: SocketAddr, name: &str) -> Proc {
    Proc::start(
        CHAT,
        &["join", "--server", &server.to_string(), "--name", name].map(String::from),
        &format!("* welcome {name}"),
    )
}

fn expect(p: &Proc, what: &str) {
    assert!(
        p.wait_for(what),
        "{} never showed {what:?}; it showed:\n{}",
        p.name,
        p.output()
    );
}

fn room(server: SocketAddr) {
    let mut alice = join(server, "alice");
    let mut bob = join(server, "bob");
    expect(&alice, "* bob joined");
    let mut carol = join(server, "carol");
    expect(&alice, "* carol joined");
    expect(&bob, "* carol joined");

    alice.say("hi all");
    bob.say("hello alice");
    carol.say("hey, carol here");
    for (p, others) in [
        (&alice, ["<bob> hello alice", "<carol> hey, carol here"]),
        (&bob, ["<alice> hi all", "<carol> hey, carol here"]),
        (&carol, ["<alice> hi all", "<bob> hello alice"]),
    ] {
        for o in others {
            expect(p, o);
        }
    }
    // Nobody gets their own message back.
    assert!(!alice.output().contains("<alice>"));

    // A second "alice" is refused with a reason and exits.
    let dup = std::process::Command::new(CHAT)
        .args(["join", "--server", &server.to_string(), "--name", "alice"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(dup.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&dup.stderr).contains("alice is taken"));

    // Carol leaves (end of input): the others are told, and carol exits cleanly.
    drop(carol.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(s) = carol.child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "carol did not exit");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(status.success());
    expect(&alice, "* carol left");
    expect(&bob, "* carol left");
    bob.say("/who");
    expect(&bob, "* here: alice, bob");
}

#[test]
fn three_clients() {
    let addr = free_udp();
    let _server = Proc::start(
        CHAT,
        &["serve", "--listen", &addr.to_string()].map(String::from),
        "chat server on",
    );
    room(addr);
}

#[test]
fn three_clients_at_ten_percent_loss() {
    let addr = free_udp();
    let server = Proc::start(
        CHAT,
        &["serve", "--listen", &addr.to_string()].map(String::from),
        "chat server on",
    );
    let lossy = LinkConfig {
        loss: Loss::Independent(0.10),
        ..LinkConfig::delay_ms(10)
    };
    let relay = relay(addr, lossy.clone(), lossy);
    room(relay.addr());
    assert!(server.output().contains("carol left"));
}

#[test]
fn server_gone_is_reported() {
    let addr = free_udp();
    let server = Proc::start(
        CHAT,
        &["serve", "--listen", &addr.to_string()].map(String::from),
        "chat server on",
    );
    let mut alice = join(addr, "alice");
    drop(server);
    // The keepalive notices within 10 s; the client says so and exits with an error.
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = alice.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            Instant::now() < deadline,
            "client did not notice the server is gone"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(status.code(), Some(1));
    expect(&alice, "connection to the server lost");
    let _ = alice.stdin.take();
}
