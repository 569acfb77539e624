//! The schema a distribution by kelurahan needs (docs/scaling.md): every key of
//! household data holds the kelurahan, and the migration that made it so keeps every
//! row of a store written before it.

use jemput_sync_server::{pg, testing, PostgresStorage, Storage};

/// A fresh database on the test cluster, named after a folder of this test.
fn database(tmp: &tempfile::TempDir) -> String {
    testing::database_for(tmp.path())
        .expect("test cluster")
        .expect("JEMPUT_TEST_DATABASE names the test cluster")
}

fn client(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls).expect("connect")
}

/// Tables of reference data, or found by something other than the kelurahan on
/// purpose; every other table with a household in it is household data.
const NOT_BY_KELURAHAN: &[&str] = &[
    // a device's report, keyed by the device (replicated reference data)
    "quarantine",
    // the one lookup by id alone, distributed by id
    "household_home",
];

#[test]
#[ignore = "needs JEMPUT_TEST_DATABASE: run by the PostgreSQL pass of scripts/test-all.sh"]
fn every_key_of_household_data_holds_the_kelurahan() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = database(&tmp);
    drop(PostgresStorage::connect(&url).expect("store"));
    let mut db = client(&url);
    let tables: Vec<String> = db
        .query(
            "SELECT DISTINCT table_name::text FROM information_schema.columns
             WHERE table_schema = 'public' AND column_name = 'household'
                OR (table_schema = 'public' AND table_name = 'households')
             ORDER BY 1",
            &[],
        )
        .expect("tables")
        .iter()
        .map(|r| r.get(0))
        .filter(|t: &String| !NOT_BY_KELURAHAN.contains(&t.as_str()))
        .collect();
    for t in ["households", "log", "export_rows", "household_actors"] {
        assert!(
            tables.iter().any(|x| x == t),
            "{t} is household data: {tables:?}"
        );
    }
    for table in &tables {
        let kelurahan: Option<String> = db
            .query_opt(
                "SELECT is_nullable::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'kelurahan'",
                &[table],
            )
            .expect("column")
            .map(|r| r.get(0));
        assert_eq!(
            kelurahan.as_deref(),
            Some("NO"),
            "{table} carries a kelurahan that is never null"
        );
        // Every unique index (primary keys and unique constraints included).
        let uniques = db
            .query(
                "SELECT i.relname::text,
                        array_agg(a.attname::text ORDER BY a.attname)
                 FROM pg_index x
                 JOIN pg_class t ON t.oid = x.indrelid
                 JOIN pg_class i ON i.oid = x.indexrelid
                 JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = ANY (x.indkey)
                 WHERE t.relname = $1 AND x.indisunique
                 GROUP BY i.relname",
                &[table],
            )
            .expect("indexes");
        assert!(!uniques.is_empty(), "{table} has a key");
        for u in uniques {
            let (name, columns): (String, Vec<String>) = (u.get(0), u.get(1));
            assert!(
                columns.iter().any(|c| c == "kelurahan"),
                "{table}'s unique index {name} on {columns:?} lacks the kelurahan"
            );
        }
    }
}

#[test]
#[ignore = "needs JEMPUT_TEST_DATABASE: run by the PostgreSQL pass of scripts/test-all.sh"]
fn keying_by_kelurahan_keeps_a_store_written_before_it() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let url = database(&tmp);
    // A store as the server left it before household data was keyed by kelurahan
    // (migration 3): two households of two kelurahans, their authors and changes.
    pg::schema_until(&url, 2).expect("old schema");
    let mut db = client(&url);
    let docs: std::collections::BTreeMap<&str, Vec<u8>> = ["hh-a", "hh-b"]
        .into_iter()
        .map(|id| {
            let mut d = automerge::AutoCommit::new();
            automerge::transaction::Transactable::put(&mut d, automerge::ROOT, "id", id)
                .expect("put");
            (id, d.save())
        })
        .collect();
    let doc = |id: &str| docs[id].clone();
    for (id, kel) in [("hh-a", "35.73.01.1007"), ("hh-b", "35.73.01.1008")] {
        db.execute(
            "INSERT INTO households (id, kelurahan, rw, rt, doc, heads, placed_seq)
             VALUES ($1, $2, 1, 1, $3, ''::bytea, 1)",
            &[&id, &kel, &doc(id)],
        )
        .expect("household");
        db.execute(
            "INSERT INTO log (kelurahan, household, kind, hash, bytes)
             VALUES ($1, $2, 0, $3, ''::bytea)",
            &[&kel, &id, &id.as_bytes()],
        )
        .expect("log");
        db.execute(
            "INSERT INTO export_rows (household, kelurahan, arrived_ms, row) VALUES ($1, $2, 0, '{}')",
            &[&id, &kel],
        )
        .expect("export row");
        for actor in [b"actor-1".as_slice(), b"actor-2"] {
            db.execute(
                "INSERT INTO household_actors (household, actor) VALUES ($1, $2)",
                &[&id, &actor],
            )
            .expect("actor");
        }
    }
    drop(db);

    let store = PostgresStorage::connect(&url).expect("the store migrates");
    for id in ["hh-a", "hh-b"] {
        assert_eq!(
            store.document(id).expect("read"),
            Some(doc(id)),
            "{id} is found by its id alone"
        );
    }
    let mut db = client(&url);
    let homes: Vec<(String, String)> = db
        .query("SELECT id, kelurahan FROM household_home ORDER BY id", &[])
        .expect("homes")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(
        homes,
        [
            ("hh-a".to_string(), "35.73.01.1007".to_string()),
            ("hh-b".to_string(), "35.73.01.1008".to_string())
        ]
    );
    let actors: Vec<(String, String)> = db
        .query(
            "SELECT household, kelurahan FROM household_actors ORDER BY household, actor",
            &[],
        )
        .expect("actors")
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    assert_eq!(actors.len(), 4, "every author kept: {actors:?}");
    assert!(actors
        .iter()
        .all(|(h, k)| (h == "hh-a") == (k == "35.73.01.1007")));
    let counts: (i64, i64) = db
        .query_one(
            "SELECT (SELECT count(*) FROM log), (SELECT count(*) FROM export_rows)",
            &[],
        )
        .map(|r| (r.get(0), r.get(1)))
        .expect("counts");
    assert_eq!(counts, (2, 2), "the log and export rows are kept");
}
