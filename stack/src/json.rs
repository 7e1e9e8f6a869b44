//! Reading kcptun's JSON config files (`-c file.json`): same keys, values override the defaults.

use std::path::Path;

use kcp::codec::CryptKind;
use serde_json::{Map, Value};

use crate::config::{Config, Mode};
use crate::error::Error;

/// kcptun keys that are about the tunnel program, not the transport; accepted and ignored here.
const PROGRAM_KEYS: &[&str] = &[
    "localaddr",
    "remoteaddr",
    "listen",
    "target",
    "snmplog",
    "snmpperiod",
    "log",
    "quiet",
    "tcp",
    "pprof",
];

/// The cipher names kcptun documents.
const CIPHERS: &[&str] = &[
    "aes", "aes-128", "aes-192", "salsa20", "blowfish", "twofish", "cast5", "3des", "tea", "xtea",
    "xor", "sm4", "none",
];

impl Config {
    /// Reads a kcptun client JSON config (keys as kcptun's `-c`), on top of the client defaults.
    ///
    /// ```
    /// let cfg = stack::Config::client_from_json(r#"{"key": "k", "crypt": "salsa20", "mode": "fast3", "conn": 2}"#)?;
    /// assert_eq!(cfg.conn, 2);
    /// let err = stack::Config::client_from_json(r#"{"mtu": "big"}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "invalid config: mtu: expected a non-negative integer, got \"big\"");
    /// # Ok::<(), stack::Error>(())
    /// ```
    pub fn client_from_json(text: &str) -> Result<Config, Error> {
        Config::default().merge_json(text)
    }

    /// Reads a kcptun server JSON config, on top of the server defaults.
    pub fn server_from_json(text: &str) -> Result<Config, Error> {
        Config::server_default().merge_json(text)
    }

    /// Reads a kcptun JSON config file on top of `self` (use [`Config::default`] or
    /// [`Config::server_default`] as the base).
    pub fn merge_json_file(self, path: impl AsRef<Path>) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path)?;
        self.merge_json(&text)
    }

    /// Applies the keys of a kcptun JSON config to `self`, then validates the result. Unknown keys are
    /// refused (a typo would otherwise silently keep a default); kcptun's program keys (`listen`, `target`,
    /// `log`, ...) are accepted and ignored.
    pub fn merge_json(mut self, text: &str) -> Result<Config, Error> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| Error::config("json", format!("not valid JSON: {e}")))?;
        let Value::Object(map) = value else {
            return Err(Error::config("json", "the top level must be an object"));
        };
        for key in map.keys() {
            if !KNOWN.contains(&key.as_str()) && !PROGRAM_KEYS.contains(&key.as_str()) {
                return Err(Error::ConfigInvalid {
                    field: "json",
                    reason: format!("unknown key {key:?}"),
                });
            }
        }
        let r = Reader(&map);
        if let Some(v) = r.string("key")? {
            self.key = v;
        }
        if let Some(v) = r.string("crypt")? {
            if !CIPHERS.contains(&v.as_str()) {
                return Err(Error::config(
                    "crypt",
                    format!("unknown cipher {v:?} (kcptun would silently use aes)"),
                ));
            }
            self.crypt = CryptKind::from_kcptun_name(&v);
        }
        if let Some(v) = r.string("mode")? {
            self.mode = Mode::from_name(&v).ok_or_else(|| {
                Error::config(
                    "mode",
                    format!("unknown mode {v:?} (normal, fast, fast2, fast3 or manual)"),
                )
            })?;
        }
        r.uint("nodelay", &mut self.nodelay)?;
        r.uint("interval", &mut self.interval)?;
        r.uint("resend", &mut self.resend)?;
        r.flag("nc", &mut self.nc)?;
        r.uint("conn", &mut self.conn)?;
        r.uint("autoexpire", &mut self.autoexpire)?;
        r.uint("scavengettl", &mut self.scavengettl)?;
        r.uint("mtu", &mut self.mtu)?;
        r.uint("sndwnd", &mut self.sndwnd)?;
        r.uint("rcvwnd", &mut self.rcvwnd)?;
        r.uint("datashard", &mut self.datashard)?;
        r.uint("parityshard", &mut self.parityshard)?;
        r.uint("dscp", &mut self.dscp)?;
        r.flag("nocomp", &mut self.nocomp)?;
        r.flag("acknodelay", &mut self.acknodelay)?;
        r.uint("sockbuf", &mut self.sockbuf)?;
        r.uint("smuxver", &mut self.smuxver)?;
        r.uint("smuxbuf", &mut self.smuxbuf)?;
        r.uint("streambuf", &mut self.streambuf)?;
        r.uint("framesize", &mut self.framesize)?;
        r.uint("keepalive", &mut self.keepalive)?;
        r.uint("windowmemory", &mut self.window_memory)?;
        self.validate()?;
        Ok(self)
    }
}

/// The transport keys this module reads.
const KNOWN: &[&str] = &[
    "key",
    "crypt",
    "mode",
    "nodelay",
    "interval",
    "resend",
    "nc",
    "conn",
    "autoexpire",
    "scavengettl",
    "mtu",
    "sndwnd",
    "rcvwnd",
    "datashard",
    "parityshard",
    "dscp",
    "nocomp",
    "acknodelay",
    "sockbuf",
    "smuxver",
    "smuxbuf",
    "streambuf",
    "framesize",
    "keepalive",
    "windowmemory",
];

struct Reader<'a>(&'a Map<String, Value>);

impl Reader<'_> {
    fn string(&self, field: &'static str) -> Result<Option<String>, Error> {
        match self.0.get(field) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(other) => Err(Error::config(
                field,
                format!("expected a string, got {other}"),
            )),
        }
    }

    fn flag(&self, field: &'static str, out: &mut bool) -> Result<(), Error> {
        match self.0.get(field) {
            None => Ok(()),
            Some(Value::Bool(b)) => {
                *out = *b;
                Ok(())
            }
            Some(other) => Err(Error::config(
                field,
                format!("expected true or false, got {other}"),
            )),
        }
    }

    fn uint<T: TryFrom<u64>>(&self, field: &'static str, out: &mut T) -> Result<(), Error> {
        let Some(v) = self.0.get(field) else {
            return Ok(());
        };
        let n = v.as_u64().ok_or_else(|| {
            Error::config(field, format!("expected a non-negative integer, got {v}"))
        })?;
        *out = T::try_from(n).map_err(|_| Error::config(field, format!("{n} is out of range")))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kcptun_client_file_reads_back() {
        let text = r#"{
            "localaddr": ":12948", "remoteaddr": "vps:29900", "key": "test", "crypt": "twofish",
            "mode": "fast2", "conn": 4, "autoexpire": 60, "scavengettl": 30, "mtu": 1400, "sndwnd": 256,
            "rcvwnd": 1024, "datashard": 0, "parityshard": 0, "dscp": 46, "nocomp": true,
            "acknodelay": true, "sockbuf": 1048576, "smuxver": 2, "smuxbuf": 8388608,
            "streambuf": 4194304, "keepalive": 5, "quiet": true, "log": ""
        }"#;
        let c = Config::client_from_json(text).unwrap();
        assert_eq!(c.key, "test");
        assert_eq!(c.crypt, CryptKind::Twofish);
        assert_eq!(c.mode, Mode::Fast2);
        assert_eq!((c.conn, c.autoexpire, c.scavengettl), (4, 60, 30));
        assert_eq!((c.mtu, c.sndwnd, c.rcvwnd), (1400, 256, 1024));
        assert_eq!((c.datashard, c.parityshard, c.dscp), (0, 0, 46));
        assert!(c.nocomp && c.acknodelay);
        assert_eq!((c.sockbuf, c.smuxver, c.smuxbuf), (1048576, 2, 8388608));
        assert_eq!((c.streambuf, c.keepalive), (4194304, 5));
    }

    #[test]
    fn window_memory_is_our_key() {
        let c = Config::client_from_json(r#"{"windowmemory": 0}"#).unwrap();
        assert_eq!(c.window_memory, 0);
        let c = Config::client_from_json(r#"{"windowmemory": 1048576}"#).unwrap();
        assert_eq!(c.window_memory, 1 << 20);
        assert_eq!(
            Config::client_from_json("{}").unwrap().window_memory,
            Config::default().window_memory
        );
    }

    #[test]
    fn server_file_keeps_server_windows() {
        let c =
            Config::server_from_json(r#"{"listen": ":29900", "target": "127.0.0.1:80"}"#).unwrap();
        assert_eq!((c.sndwnd, c.rcvwnd), (1024, 1024));
    }

    #[test]
    fn errors_name_the_field() {
        let field = |text: &str| match Config::client_from_json(text) {
            Err(Error::ConfigInvalid { field, reason }) => {
                assert!(!reason.is_empty());
                field
            }
            other => panic!("expected ConfigInvalid for {text}, got {other:?}"),
        };
        assert_eq!(field(r#"{"mtu": 20}"#), "mtu");
        assert_eq!(field(r#"{"mtu": -1}"#), "mtu");
        assert_eq!(field(r#"{"sndwnd": "x"}"#), "sndwnd");
        assert_eq!(field(r#"{"dscp": 300}"#), "dscp");
        assert_eq!(field(r#"{"nocomp": 1}"#), "nocomp");
        assert_eq!(field(r#"{"crypt": "rot13"}"#), "crypt");
        assert_eq!(field(r#"{"mode": "fastest"}"#), "mode");
        assert_eq!(field(r#"{"smuxver": 3}"#), "smuxver");
        assert_eq!(field(r#"{"key": 5}"#), "key");
        assert_eq!(field(r#"{"conn": 0}"#), "conn");
        assert_eq!(field(r#"{"mtuu": 1350}"#), "json");
        assert_eq!(field("[1]"), "json");
        assert_eq!(field("{"), "json");
    }
}
