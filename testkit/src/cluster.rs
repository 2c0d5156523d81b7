//! A throwaway Postgres cluster for one test: its own `initdb` data directory and port, TLS with a
//! CA and a server certificate made by the test. Stopped (immediately) when dropped.

use std::path::{Path, PathBuf};
use std::process::Command;

use rcgen::{BasicConstraints, Certificate, CertificateParams, DnType, IsCa, KeyPair};

pub struct Cluster {
    pub port: u16,
    /// The CA that signed the server's certificate, as a PEM file.
    pub ca: PathBuf,
    /// Another CA, which signed nothing of this cluster's.
    pub other_ca: PathBuf,
    bin: PathBuf,
    data: PathBuf,
    _dir: tempfile::TempDir,
}

/// A CA certificate and its key.
pub(crate) fn ca(name: &str) -> (Certificate, KeyPair) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, name);
    (params.self_signed(&key).unwrap(), key)
}

/// Where this machine's Postgres programs are (`PG_BINDIR`, or Debian's newest).
fn bin_dir() -> PathBuf {
    if let Ok(dir) = std::env::var("PG_BINDIR") {
        return dir.into();
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("Postgres server programs under /usr/lib/postgresql (or PG_BINDIR)")
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop().expect("an initdb")
}

/// Runs a Postgres program; as the `postgres` user when the test runs as root (Postgres refuses
/// to run as root).
fn run(bin: &Path, program: &str, args: &[&str]) {
    let as_root = unsafe { libc_geteuid() } == 0;
    let mut command = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(bin.join(program));
        c
    } else {
        Command::new(bin.join(program))
    };
    let output = command.args(args).output().unwrap();
    assert!(output.status.success(), "{program} {args:?}: {}", String::from_utf8_lossy(&output.stderr));
}

extern "C" {
    #[link_name = "geteuid"]
    fn libc_geteuid() -> u32;
}

/// Hands `path` to the `postgres` user when the test runs as root.
fn give_to_postgres(path: &Path) {
    if unsafe { libc_geteuid() } == 0 {
        let status = Command::new("chown").args(["-R", "postgres:postgres"]).arg(path).status().unwrap();
        assert!(status.success());
    }
}

impl Cluster {
    /// Starts a cluster whose server certificate is for `names` (e.g. `localhost`), signed by a
    /// CA of its own, on a free port of 127.0.0.1 and ::1.
    pub fn start_with_tls(names: &[&str]) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_path_buf();
        let (ca_cert, ca_key) = ca("minter test CA");
        let server_key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let server = CertificateParams::new(names).unwrap().signed_by(&server_key, &ca_cert, &ca_key).unwrap();
        let ca = root.join("ca.pem");
        let other_ca = root.join("other-ca.pem");
        std::fs::write(&ca, ca_cert.pem()).unwrap();
        std::fs::write(&other_ca, self::ca("another CA").0.pem()).unwrap();
        std::fs::write(root.join("server.crt"), server.pem()).unwrap();
        std::fs::write(root.join("server.key"), server_key.serialize_pem()).unwrap();
        std::fs::set_permissions(root.join("server.key"), std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        give_to_postgres(&root);

        let bin = bin_dir();
        let data = root.join("data");
        run(&bin, "initdb", &["-D", data.to_str().unwrap(), "-A", "trust", "-U", "postgres", "--no-sync"]);
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let options = format!(
            "-p {port} -k {root} -c listen_addresses=localhost -c ssl=on -c ssl_cert_file={root}/server.crt \
             -c ssl_key_file={root}/server.key -c fsync=off",
            root = root.display()
        );
        let log = root.join("log");
        run(
            &bin,
            "pg_ctl",
            &["-D", data.to_str().unwrap(), "-l", log.to_str().unwrap(), "-o", &options, "-w", "start"],
        );
        Cluster { port, ca, other_ca, bin, data, _dir: dir }
    }

    /// `postgres://postgres@{host}:{port}/postgres?{query}`.
    pub fn url(&self, host: &str, query: &str) -> String {
        format!("postgres://postgres@{host}:{}/postgres?{query}", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.to_string_lossy().into_owned();
        let _ = std::panic::catch_unwind(|| run(&self.bin, "pg_ctl", &["-D", &data, "-m", "immediate", "stop"]));
    }
}
