//! Ports for listeners that must be known before they start, or that a test
//! restarts where their clients expect them.
//!
//! A port below the kernel's ephemeral range (32768 and up on Linux): a port
//! that bind(0) handed out, once its listener is gone, can be handed to
//! another test's listener or connection before the process that owned it
//! binds it again, which once failed a test with "address already in use".
//! The tests of a crate share one process, so this is no rare race.

use std::sync::atomic::{AtomicU32, Ordering};

const LOW: u32 = 20_000;
const SPAN: u32 = 12_000;

/// A loopback address (`127.0.0.1:port`) with a port free now, below the
/// ephemeral range. Ports are spread by process and call, and one that is
/// bound now is skipped.
pub fn free_addr() -> String {
    free_addr_on("127.0.0.1")
}

/// As [`free_addr`], on another loopback address (`127.0.0.2`, say).
pub fn free_addr_on(ip: &str) -> String {
    format!("{ip}:{}", free_port_on(ip))
}

/// The port of [`free_addr_on`].
pub fn free_port_on(ip: &str) -> u16 {
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id().wrapping_mul(7_919);
    for _ in 0..SPAN {
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        let port = LOW + seed.wrapping_add(call.wrapping_mul(104_729)) % SPAN;
        if std::net::TcpListener::bind((ip, port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free port between {LOW} and {}", LOW + SPAN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_free_below_the_ephemeral_range_and_differ_call_to_call() {
        let (a, b) = (free_port_on("127.0.0.1"), free_port_on("127.0.0.1"));
        assert_ne!(a, b);
        for port in [a, b] {
            assert!((20_000..32_000).contains(&port), "{port}");
            std::net::TcpListener::bind(("127.0.0.1", port)).expect("free");
        }
        let addr = free_addr();
        assert!(addr.starts_with("127.0.0.1:"), "{addr}");
    }
}
