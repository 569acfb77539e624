//! The store reaches PostgreSQL over TLS when the URL says `sslmode=require`, and
//! checks the database's certificate; it never opens a plain connection to another
//! machine (the connection carries families' data).

use std::path::Path;

use jemput_sync_server::{testing, PostgresStorage, Storage};

#[test]
fn a_database_on_another_machine_is_refused_without_tls() {
    // Refused before anything is sent: the host is never even looked up.
    let err = PostgresStorage::connect("postgres://jemput:rahasia@db.example.invalid:5432/jemput")
        .err()
        .expect("a plain connection to another machine is refused");
    let text = err.to_string();
    assert!(text.contains("sslmode=require"), "{text}");
    assert!(
        !text.contains("rahasia"),
        "the password is never echoed: {text}"
    );
}

/// Writes `bytes` to `path` for the cluster's own user to read (it runs as `postgres`
/// when the tests run as root), `mode` as given.
fn for_the_cluster(path: &Path, bytes: &[u8], mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, bytes).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("mode");
    let id = |args: &[&str]| -> u32 {
        let out = std::process::Command::new("id")
            .args(args)
            .output()
            .expect("id");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("an id")
    };
    if id(&["-u"]) == 0 {
        let (uid, gid) = (id(&["-u", "postgres"]), id(&["-g", "postgres"]));
        std::os::unix::fs::chown(path, Some(uid), Some(gid)).expect("chown");
    }
}

#[test]
#[ignore = "needs JEMPUT_TEST_DATABASE: run by the PostgreSQL pass of scripts/test-all.sh"]
fn the_store_speaks_tls_to_postgresql_and_checks_its_certificate() {
    let admin_url = testing::postgres().expect("JEMPUT_TEST_DATABASE names the test cluster");
    let tmp = tempfile::tempdir().expect("tempdir");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).expect("mode");
    }
    let names = vec!["127.0.0.1".to_string(), "localhost".to_string()];
    let (cert, key) = jemput_sync_server::net::self_signed(&names).expect("certificate");
    let (cert_file, key_file) = (tmp.path().join("db.crt"), tmp.path().join("db.key"));
    for_the_cluster(&cert_file, cert.as_bytes(), 0o644);
    for_the_cluster(&key_file, key.as_bytes(), 0o600);

    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).expect("admin");
    for sql in [
        format!("ALTER SYSTEM SET ssl_cert_file = '{}'", cert_file.display()),
        format!("ALTER SYSTEM SET ssl_key_file = '{}'", key_file.display()),
        "ALTER SYSTEM SET ssl = on".to_string(),
    ] {
        admin.batch_execute(&sql).expect("configure TLS");
    }
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .expect("reload");
    std::thread::sleep(std::time::Duration::from_millis(500));

    let db_url = testing::database_for(tmp.path())
        .expect("test database")
        .expect("a test cluster");
    let url = format!("{db_url}?sslmode=require");
    let db_name = db_url.rsplit('/').next().expect("name").to_string();

    // Trusted by the office's own CA file: connects, creates its tables, answers.
    let store = PostgresStorage::connect_with_ca(&url, Some(&cert_file)).expect("over TLS");
    store.server_id().expect("a query over TLS");
    let encrypted: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
              WHERE s.ssl AND a.datname = $1",
            &[&db_name],
        )
        .expect("pg_stat_ssl")
        .get(0);
    let plain: i64 = admin
        .query_one(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
              WHERE NOT s.ssl AND a.datname = $1",
            &[&db_name],
        )
        .expect("pg_stat_ssl")
        .get(0);
    assert!(encrypted >= 1, "the store's connections are encrypted");
    assert_eq!(plain, 0, "no plain connection to the store's database");

    // Another CA's certificate, or the public roots: this database is not trusted.
    let other = tmp.path().join("other.crt");
    let (other_cert, _) = jemput_sync_server::net::self_signed(&names).expect("certificate");
    std::fs::write(&other, other_cert).expect("write");
    assert!(PostgresStorage::connect_with_ca(&url, Some(&other)).is_err());
    assert!(PostgresStorage::connect(&url).is_err());

    drop(store);
    admin
        .batch_execute("ALTER SYSTEM RESET ssl")
        .expect("reset");
    admin
        .batch_execute("SELECT pg_reload_conf()")
        .expect("reload");
}
