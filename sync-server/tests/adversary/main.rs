//! The server as an adversary meets it: hand-crafted Automerge changes for every
//! forbidden operation, pushed through the server's real sync logic (in-process, one
//! SQLite file). Each refusal carries its code, leaves the server's document and the
//! export exactly as they were; the allowed operations still pass.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, AutoCommit, ObjType, ReadDoc, ScalarValue, ROOT};
use ed25519_dalek::SigningKey;
use jemput_core::bundle::{self, BundlePayload};
use jemput_core::household::{Author, Household, Proposal, VisitInput};
use jemput_core::sync::{Area, PushDoc, SyncRequest, SyncResponse};
use jemput_core::{IndicatorSet, SystemClock};
use jemput_sync_server::guard::Limits;
use jemput_sync_server::service::{Role, Session};
use jemput_sync_server::{demo, testing, Storage};
use serde_bytes::ByteBuf;

const PW: &str = "kata-sandi-uji";
const KEL: &str = demo::KELURAHAN;

fn now() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

struct Dev {
    session: Session,
    author: Author,
    key: SigningKey,
    certificate: Vec<u8>,
}

struct World {
    _dir: tempfile::TempDir,
    s: Box<dyn Storage>,
    set: IndicatorSet,
    /// A registry household in RW 1 and its head member id.
    hh: String,
    head: String,
}

impl World {
    fn new() -> World {
        World::with_limits(Limits::default())
    }

    fn with_limits(limits: Limits) -> World {
        let dir = tempfile::tempdir().unwrap();
        let s = testing::open(dir.path(), limits).unwrap();
        let households = demo::households(5).unwrap();
        s.insert_households(&households).unwrap();
        let users = [
            ("kader-a", Role::Kader, Some(1)),
            ("kader-b", Role::Kader, Some(1)),
            ("operator", Role::Operator, None),
            ("fasilitator", Role::Fasilitator, None),
        ];
        for (name, role, rw) in users {
            s.add_user(name, role, PW).unwrap();
            s.assign(
                name,
                &Area {
                    kelurahan: KEL.into(),
                    rw,
                },
            )
            .unwrap();
        }
        let first = households.iter().find(|h| h.rw == 1).unwrap();
        let doc = Household::load(&first.doc).unwrap();
        let head = doc
            .members_index()
            .into_iter()
            .find(|(_, m)| m.relation == "head")
            .unwrap()
            .0;
        World {
            _dir: dir,
            s,
            set: IndicatorSet::bps14(),
            hh: first.id.clone(),
            head,
        }
    }

    fn login(&self, user: &str, actor: u8) -> Dev {
        let author = Author::new(&format!("{actor:02x}{}", "ab".repeat(15)), user).unwrap();
        let key = SigningKey::from_bytes(&[actor; 32]);
        let ok = self
            .s
            .login(
                user,
                PW,
                "test",
                Some(key.verifying_key().to_bytes()),
                std::slice::from_ref(&author.actor),
                true,
            )
            .unwrap()
            .expect("login");
        Dev {
            session: self.s.authenticate(&ok.token).unwrap().unwrap(),
            author,
            certificate: hex::decode(ok.certificate.unwrap()).unwrap(),
            key,
        }
    }

    fn doc(&self, id: &str) -> AutoCommit {
        AutoCommit::load(&self.s.document(id).unwrap().expect("household")).unwrap()
    }

    fn export(&self) -> String {
        serde_json::to_string(&self.s.export_rows(KEL, i64::MAX / 2).unwrap()).unwrap()
    }

    fn push(&self, dev: &Dev, docs: Vec<PushDoc>) -> SyncResponse {
        let req = SyncRequest {
            push: docs,
            ..SyncRequest::default()
        };
        self.s.sync(&dev.session, &req, 1000).unwrap()
    }

    /// Edits the server's document as `dev`'s actor (or another), commits with a
    /// message and a time, and pushes the new changes.
    fn craft(
        &self,
        dev: &Dev,
        id: &str,
        actor: Option<&ActorId>,
        message: &str,
        at: i64,
        edit: impl FnOnce(&mut AutoCommit),
    ) -> SyncResponse {
        let mut doc = self.doc(id);
        let before = doc.get_heads();
        doc.set_actor(actor.unwrap_or(&dev.author.actor).clone());
        edit(&mut doc);
        doc.commit_with(CommitOptions::default().with_message(message).with_time(at));
        self.push(dev, vec![changes_since(&mut doc, id, &before)])
    }

    /// Asserts that `resp` refused `id` with `code`, and nothing changed.
    fn refused(
        &self,
        what: &str,
        before: (&[u8], &str),
        resp: &SyncResponse,
        id: &str,
        code: &str,
    ) {
        let r = resp
            .rejected
            .iter()
            .find(|r| r.id == id)
            .unwrap_or_else(|| panic!("{what}: was accepted"));
        assert_eq!(r.code, code, "{what}: {}", r.reason);
        assert!(!r.reason.is_empty());
        assert_eq!(
            self.s.document(id).unwrap().as_deref(),
            Some(before.0),
            "{what}: the server's document changed"
        );
        assert_eq!(self.export(), before.1, "{what}: the export changed");
    }

    fn visit(&self, dev: &Dev, id: &str) -> (SyncResponse, String) {
        let mut hh =
            Household::load_as(&self.s.document(id).unwrap().unwrap(), &dev.author).unwrap();
        let before = hh.heads();
        let input = VisitInput {
            result: "found".into(),
            answers: answered(&self.set, serde_json::json!({"floor_material": "tanah"})),
            ..VisitInput::default()
        };
        let vid = hh
            .record_visit(
                &input,
                &self.set,
                &dev.author,
                &SystemClock,
                &mut rand::thread_rng(),
            )
            .unwrap();
        let push = changes_since(hh.doc_mut(), id, &before);
        (self.push(dev, vec![push]), vid)
    }
}

fn changes_since(doc: &mut AutoCommit, id: &str, before: &[automerge::ChangeHash]) -> PushDoc {
    let mut buf = Vec::new();
    for c in doc.get_changes(before) {
        buf.extend_from_slice(c.raw_bytes());
    }
    PushDoc {
        id: id.to_string(),
        changes: ByteBuf::from(buf),
    }
}

fn obj(doc: &AutoCommit, path: &[&str]) -> automerge::ObjId {
    let mut o = ROOT;
    for k in path {
        o = doc.get(&o, *k).unwrap().expect(k).1;
    }
    o
}

/// A desil the household does not have (a put of the same value is no change).
fn other_desil(d: &AutoCommit) -> i64 {
    let r = obj(d, &["registry"]);
    match d.get(&r, "desil").unwrap() {
        Some((automerge::Value::Scalar(s), _)) => match s.as_ref() {
            ScalarValue::Int(i) => i % 10 + 1,
            _ => 1,
        },
        _ => 1,
    }
}

fn flag(d: &AutoCommit, programme: &str) -> bool {
    let p = obj(d, &["registry", "programmes"]);
    matches!(d.get(&p, programme).unwrap(), Some((automerge::Value::Scalar(s), _)) if matches!(s.as_ref(), ScalarValue::Boolean(true)))
}

const OTHER_NIK: &str = "3573014506900002";

#[test]
fn a_kader_cannot_touch_identity_registry_decisions_or_others_visits() {
    let w = World::new();
    let a = w.login("kader-a", 0xa1);
    let b = w.login("kader-b", 0xb1);
    let (resp, b_visit) = w.visit(&b, &w.hh);
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    let by_a = "visit by kader-a";
    let t = now();
    let head = w.head.clone();

    type Edit = Box<dyn Fn(&mut AutoCommit)>;
    let h = head.clone();
    let bv = b_visit.clone();
    let cases: Vec<(&str, &str, Edit)> = vec![
        (
            "head NIK",
            "forbidden",
            Box::new({
                let h = h.clone();
                move |d| {
                    let m = obj(d, &["members", &h]);
                    d.put(&m, "nik", OTHER_NIK).unwrap();
                }
            }),
        ),
        (
            "invalid head NIK",
            "forbidden",
            Box::new({
                let h = h.clone();
                move |d| {
                    let m = obj(d, &["members", &h]);
                    d.put(&m, "nik", "123").unwrap();
                }
            }),
        ),
        (
            "head name",
            "forbidden",
            Box::new({
                let h = h.clone();
                move |d| {
                    let m = obj(d, &["members", &h]);
                    d.put(&m, "name", "Orang Lain").unwrap();
                }
            }),
        ),
        (
            "head birth date",
            "forbidden",
            Box::new({
                let h = h.clone();
                move |d| {
                    let m = obj(d, &["members", &h]);
                    d.put(&m, "birth_date", "1990-01-01").unwrap();
                }
            }),
        ),
        (
            "delete the head",
            "forbidden",
            Box::new({
                let h = h.clone();
                move |d| {
                    let m = obj(d, &["members"]);
                    d.delete(&m, h.as_str()).unwrap();
                }
            }),
        ),
        (
            "delete another kader's visit",
            "forbidden",
            Box::new({
                let bv = bv.clone();
                move |d| {
                    let v = obj(d, &["visits"]);
                    d.delete(&v, bv.as_str()).unwrap();
                }
            }),
        ),
        (
            "change another kader's visit",
            "forbidden",
            Box::new({
                let bv = bv.clone();
                move |d| {
                    let v = obj(d, &["visits", &bv]);
                    d.put(&v, "result", "died").unwrap();
                }
            }),
        ),
        (
            "withdraw another kader's visit",
            "forbidden",
            Box::new({
                let bv = bv.clone();
                move |d| {
                    let v = obj(d, &["visits", &bv]);
                    d.put(&v, "withdrawn", true).unwrap();
                }
            }),
        ),
        (
            "replace another kader's visit",
            "forbidden",
            Box::new({
                let bv = bv.clone();
                move |d| {
                    let v = obj(d, &["visits"]);
                    d.put_object(&v, bv.as_str(), ObjType::Map).unwrap();
                }
            }),
        ),
        (
            "visits replaced by an empty map",
            "schema",
            Box::new(|d| {
                d.put_object(ROOT, "visits", ObjType::Map).unwrap();
            }),
        ),
        (
            "registry household flagged a proposal",
            "forbidden",
            Box::new(|d| {
                d.put(ROOT, "proposal", true).unwrap();
            }),
        ),
        (
            "desil",
            "forbidden",
            Box::new(|d| {
                let r = obj(d, &["registry"]);
                let v = other_desil(d);
                d.put(&r, "desil", v).unwrap();
            }),
        ),
        (
            "PKH",
            "forbidden",
            Box::new(|d| {
                let r = obj(d, &["registry", "programmes"]);
                let v = !flag(d, "pkh");
                d.put(&r, "pkh", v).unwrap();
            }),
        ),
        (
            "KK",
            "forbidden",
            Box::new(|d| {
                let i = obj(d, &["identity"]);
                d.put(&i, "kk", "3573010101900001").unwrap();
            }),
        ),
        (
            "address",
            "forbidden",
            Box::new(|d| {
                let i = obj(d, &["identity"]);
                d.put(&i, "address", "Jl. Lain 1").unwrap();
            }),
        ),
        (
            "RW",
            "schema",
            Box::new(|d| {
                let i = obj(d, &["identity"]);
                d.put(&i, "rw", 2).unwrap();
            }),
        ),
        (
            "a decision",
            "forbidden",
            Box::new(|d| {
                let r = obj(d, &["resolutions"]);
                let c = d.put_object(&r, "c-1", ObjType::Map).unwrap();
                d.put(&c, "kind", "field").unwrap();
            }),
        ),
        (
            "a note",
            "forbidden",
            Box::new(|d| {
                let n = obj(d, &["notes"]);
                let c = d.put_object(&n, "n-1", ObjType::Map).unwrap();
                d.put(&c, "text", "x").unwrap();
            }),
        ),
        (
            "duplicate_of",
            "forbidden",
            Box::new(|d| {
                d.put(ROOT, "duplicate_of", "hh-x").unwrap();
            }),
        ),
        (
            "an unknown root key",
            "schema",
            Box::new(|d| {
                d.put(ROOT, "bonus", 1).unwrap();
            }),
        ),
        (
            "the document id",
            "schema",
            Box::new(|d| {
                d.put(ROOT, "id", "hh-other").unwrap();
            }),
        ),
        (
            "a counter",
            "schema",
            Box::new(|d| {
                d.put(ROOT, "status", ScalarValue::counter(1)).unwrap();
            }),
        ),
        (
            "status as a text object",
            "schema",
            Box::new(|d| {
                let t = d.put_object(ROOT, "status", ObjType::Text).unwrap();
                d.splice_text(&t, 0, 0, "found").unwrap();
            }),
        ),
        (
            "a bad status",
            "schema",
            Box::new(|d| {
                d.put(ROOT, "status", "rich").unwrap();
            }),
        ),
    ];
    for (what, code, edit) in cases {
        let before = w.s.document(&w.hh).unwrap().unwrap();
        let export = w.export();
        let resp = w.craft(&a, &w.hh, None, by_a, t, |d| edit(d));
        w.refused(what, (&before, &export), &resp, &w.hh, code);
    }
}

#[test]
fn visits_are_checked_field_by_field_and_stamped_honestly() {
    let w = World::new();
    let a = w.login("kader-a", 0xa2);
    let t = now();
    type Edit = Box<dyn Fn(&mut AutoCommit)>;
    let visit = |extra: Edit| -> Edit {
        Box::new(move |d: &mut AutoCommit| {
            let v = obj(d, &["visits"]);
            let o = d.put_object(&v, "v-crafted", ObjType::Map).unwrap();
            d.put(
                &o,
                "date",
                time::OffsetDateTime::now_utc().date().to_string(),
            )
            .unwrap();
            d.put(&o, "at", ScalarValue::Timestamp(now())).unwrap();
            d.put(&o, "kader", "kader-a").unwrap();
            d.put(&o, "result", "found").unwrap();
            extra(d);
        })
    };
    let cases: Vec<(&str, &str, i64, &str, Edit)> = vec![
        (
            "visit in another kader's name",
            "schema",
            t,
            "visit by kader-a",
            visit(Box::new(|d| {
                let o = obj(d, &["visits", "v-crafted"]);
                d.put(&o, "kader", "kader-b").unwrap();
            })),
        ),
        (
            "change at time 0",
            "bad_time",
            0,
            "visit by kader-a",
            visit(Box::new(|_| {})),
        ),
        (
            "change in 2099",
            "bad_time",
            4_070_908_800_000,
            "visit by kader-a",
            visit(Box::new(|_| {})),
        ),
        (
            "visit time in seconds",
            "schema",
            t,
            "visit by kader-a",
            visit(Box::new(|d| {
                let o = obj(d, &["visits", "v-crafted"]);
                d.put(&o, "at", ScalarValue::Timestamp(now() / 1000))
                    .unwrap();
            })),
        ),
        (
            "visit dated 2099",
            "schema",
            t,
            "visit by kader-a",
            visit(Box::new(|d| {
                let o = obj(d, &["visits", "v-crafted"]);
                d.put(&o, "date", "2099-01-01").unwrap();
            })),
        ),
        (
            "result as a text object",
            "schema",
            t,
            "visit by kader-a",
            visit(Box::new(|d| {
                let o = obj(d, &["visits", "v-crafted"]);
                let r = d.put_object(&o, "result", ObjType::Text).unwrap();
                d.splice_text(&r, 0, 0, "found").unwrap();
            })),
        ),
        (
            "answer not an option",
            "schema",
            t,
            "visit by kader-a",
            visit(Box::new(|d| {
                let o = obj(d, &["visits", "v-crafted"]);
                let a = d.put_object(&o, "answers", ObjType::Map).unwrap();
                d.put(&a, "floor_material", "emas").unwrap();
            })),
        ),
        (
            "answer of an unknown criterion",
            "schema",
            t,
            "visit by kader-a",
            visit(Box::new(|d| {
                let o = obj(d, &["visits", "v-crafted"]);
                let a = d.put_object(&o, "answers", ObjType::Map).unwrap();
                d.put(&a, "yacht", true).unwrap();
            })),
        ),
        (
            "number answer as text",
            "schema",
            t,
            "visit by kader-a",
            visit(Box::new(|d| {
                let o = obj(d, &["visits", "v-crafted"]);
                let a = d.put_object(&o, "answers", ObjType::Map).unwrap();
                d.put(&a, "meals_per_day", "dua").unwrap();
            })),
        ),
        (
            "new member with an invalid NIK",
            "schema",
            t,
            "visit by kader-a",
            visit(Box::new(|d| {
                let m = obj(d, &["members"]);
                let o = d.put_object(&m, "m-new", ObjType::Map).unwrap();
                d.put(&o, "name", "Bayi").unwrap();
                d.put(&o, "nik", "3573").unwrap();
            })),
        ),
        (
            "presence not a presence",
            "schema",
            t,
            "visit by kader-a",
            visit(Box::new(|d| {
                let o = obj(d, &["visits", "v-crafted"]);
                let m = d.put_object(&o, "member_changes", ObjType::Map).unwrap();
                d.put(&m, "m-x", "abducted").unwrap();
            })),
        ),
    ];
    for (what, code, at, message, edit) in cases {
        let before = w.s.document(&w.hh).unwrap().unwrap();
        let export = w.export();
        let resp = w.craft(&a, &w.hh, None, message, at, |d| edit(d));
        w.refused(what, (&before, &export), &resp, &w.hh, code);
    }
    // The same visit, honest, passes; so do a new member and withdrawing it later. Its
    // message names another user: nothing reads messages (see below).
    let resp = w.craft(&a, &w.hh, None, "visit by fasilitator", t, |d| {
        visit(Box::new(|d| {
            let m = obj(d, &["members"]);
            let o = d.put_object(&m, "m-baby", ObjType::Map).unwrap();
            d.put(&o, "name", "Bayi").unwrap();
            d.put(&o, "relation", "child").unwrap();
            d.put(&o, "presence", "new").unwrap();
        }))(d)
    });
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    let resp = w.craft(&a, &w.hh, None, "withdraw by kader-a", t, |d| {
        let o = obj(d, &["visits", "v-crafted"]);
        d.put(&o, "withdrawn", true).unwrap();
    });
    assert!(
        resp.rejected.is_empty(),
        "own visit withdrawn: {:?}",
        resp.rejected
    );
    // The author is the server's record of whose device the actor is: whoever pulls
    // the household learns that kader-a wrote those changes, whatever the message said.
    let b = w.login("kader-b", 0xb2);
    let pull = w.s.sync(&b.session, &SyncRequest::default(), 1000).unwrap();
    assert!(pull.docs.iter().any(|d| d.id == w.hh));
    let authors = jemput_core::authors::Authors::new(pull.authors.clone().into_iter().collect());
    let a_hex = a.author.actor.to_hex_string();
    assert_eq!(authors.of(&a_hex).as_deref(), Some("kader-a"));
    assert!(
        !pull.authors.values().any(|u| u == "fasilitator"),
        "{:?}",
        pull.authors
    );
    let mut history = Household::from_doc(w.doc(&w.hh)).unwrap().history();
    authors.name_history(&mut history);
    let by_a: Vec<_> = history.iter().filter(|e| e.device == a_hex).collect();
    assert_eq!(by_a.len(), 2, "the visit and its withdrawal");
    assert!(by_a.iter().all(|e| e.by.as_deref() == Some("kader-a")));
    assert!(
        history.iter().all(|e| e.by.is_some()),
        "the import's changes are named too: {history:?}"
    );
    // Its own visit re-dated to 2099 later: refused, it would lead every "last visit".
    let before = w.s.document(&w.hh).unwrap().unwrap();
    let export = w.export();
    let resp = w.craft(&a, &w.hh, None, "visit by kader-a", t, |d| {
        let o = obj(d, &["visits", "v-crafted"]);
        d.put(&o, "date", "2099-01-01").unwrap();
    });
    w.refused(
        "own visit re-dated",
        (&before, &export),
        &resp,
        &w.hh,
        "schema",
    );
}

#[test]
fn a_kader_proposes_only_proposals_and_the_losing_side_is_judged_too() {
    let w = World::new();
    let a = w.login("kader-a", 0xa3);
    let op = w.login("operator", 0x03);
    let mut rng = rand::thread_rng();
    let proposal = Proposal {
        head_name: "Keluarga Baru".into(),
        head_birth_date: None,
        nik: None,
        kk: None,
        address: "Jl. Baru 1".into(),
        kelurahan: KEL.into(),
        rw: 1,
        rt: 1,
    };
    // An honest proposal passes.
    let mut p = Household::propose("hh-phonest", &proposal, &a.author, now(), &mut rng).unwrap();
    let resp = w.push(&a, vec![changes_since(p.doc_mut(), "hh-phonest", &[])]);
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);

    // A "registry record" with desil 1, PKH and BPNT is refused.
    let mut fake = Household::propose("hh-pfake", &proposal, &a.author, now(), &mut rng).unwrap();
    {
        let d = fake.doc_mut();
        let r = obj(d, &["registry"]);
        d.put(&r, "desil", 1).unwrap();
        let pr = obj(d, &["registry", "programmes"]);
        d.put(&pr, "pkh", true).unwrap();
        d.put(&pr, "bpnt", true).unwrap();
        d.commit_with(
            CommitOptions::default()
                .with_message("propose by kader-a")
                .with_time(now()),
        );
    }
    let resp = w.push(&a, vec![changes_since(fake.doc_mut(), "hh-pfake", &[])]);
    assert_eq!(resp.rejected[0].code, "forbidden", "{:?}", resp.rejected);
    // ... and without the proposal flag.
    let mut unflagged =
        Household::propose("hh-punflagged", &proposal, &a.author, now(), &mut rng).unwrap();
    {
        let d = unflagged.doc_mut();
        d.put(ROOT, "proposal", false).unwrap();
        d.commit_with(
            CommitOptions::default()
                .with_message("propose by kader-a")
                .with_time(now()),
        );
    }
    let resp = w.push(
        &a,
        vec![changes_since(unflagged.doc_mut(), "hh-punflagged", &[])],
    );
    assert_eq!(resp.rejected[0].code, "forbidden", "{:?}", resp.rejected);
    // A proposal that takes a registry-shaped id (the office's import would find it
    // taken) is refused.
    let mut squat =
        Household::propose("hh-0123456789abcdef", &proposal, &a.author, now(), &mut rng).unwrap();
    let resp = w.push(
        &a,
        vec![changes_since(squat.doc_mut(), "hh-0123456789abcdef", &[])],
    );
    assert_eq!(resp.rejected[0].code, "forbidden", "{:?}", resp.rejected);
    assert!(
        resp.rejected[0].reason.contains("hh-p"),
        "{:?}",
        resp.rejected
    );
    assert!(w.s.document("hh-pfake").unwrap().is_none());
    assert!(w.s.document("hh-punflagged").unwrap().is_none());

    // The office corrects the address; the kader's concurrent correction (made on the
    // document before it, so it would lose) is judged all the same.
    let old = w.doc(&w.hh);
    let old_heads = old.clone().get_heads();
    let resp = w.craft(&op, &w.hh, None, "edit by operator", now(), |d| {
        let i = obj(d, &["identity"]);
        d.put(&i, "address", "Jl. Resmi 2").unwrap();
    });
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    let before = w.s.document(&w.hh).unwrap().unwrap();
    let export = w.export();
    let mut fork = old;
    fork.set_actor(a.author.actor.clone());
    let i = obj(&fork, &["identity"]);
    fork.put(&i, "address", "Jl. Kader 3").unwrap();
    fork.commit_with(
        CommitOptions::default()
            .with_message("edit by kader-a")
            .with_time(now()),
    );
    let resp = w.push(&a, vec![changes_since(&mut fork, &w.hh, &old_heads)]);
    w.refused(
        "losing-side address",
        (&before, &export),
        &resp,
        &w.hh,
        "forbidden",
    );
}

#[test]
fn office_roles_are_bounded_too() {
    let w = World::new();
    let op = w.login("operator", 0x04);
    let fas = w.login("fasilitator", 0x05);
    let b = w.login("kader-b", 0xb5);
    let (_, b_visit) = w.visit(&b, &w.hh);
    let t = now();
    type Edit = Box<dyn Fn(&mut AutoCommit)>;
    let cases: Vec<(&Dev, &str, &str, &str, Edit)> = vec![
        (
            &op,
            "operator",
            "operator moves RW",
            "schema",
            Box::new(|d| {
                let i = obj(d, &["identity"]);
                d.put(&i, "rw", 3).unwrap();
            }),
        ),
        (
            &fas,
            "fasilitator",
            "fasilitator sets desil",
            "forbidden",
            Box::new(|d| {
                let r = obj(d, &["registry"]);
                let v = other_desil(d);
                d.put(&r, "desil", v).unwrap();
            }),
        ),
        (
            &fas,
            "fasilitator",
            "fasilitator deletes a visit",
            "forbidden",
            Box::new({
                let v = b_visit.clone();
                move |d| {
                    let o = obj(d, &["visits"]);
                    d.delete(&o, v.as_str()).unwrap();
                }
            }),
        ),
        (
            &op,
            "operator",
            "operator deletes a member",
            "forbidden",
            Box::new(|d| {
                let m = obj(d, &["members"]);
                let k = d.keys(&m).next().unwrap();
                d.delete(&m, k.as_str()).unwrap();
            }),
        ),
        (
            &op,
            "operator",
            "decision in another's name",
            "schema",
            Box::new(|d| {
                let r = obj(d, &["resolutions"]);
                let c = d.put_object(&r, "c-1", ObjType::Map).unwrap();
                d.put(&c, "by", "fasilitator").unwrap();
            }),
        ),
        (
            &fas,
            "fasilitator",
            "invalid NIK correction",
            "schema",
            Box::new(|d| {
                let m = obj(d, &["members"]);
                let k = d.keys(&m).next().unwrap();
                let o = obj(d, &["members", &k]);
                d.put(&o, "nik", "3573000000000000").unwrap();
            }),
        ),
    ];
    for (dev, user, what, code, edit) in cases {
        let before = w.s.document(&w.hh).unwrap().unwrap();
        let export = w.export();
        let resp = w.craft(dev, &w.hh, None, &format!("edit by {user}"), t, |d| edit(d));
        w.refused(what, (&before, &export), &resp, &w.hh, code);
    }
    // Allowed: the operator corrects the address, the fasilitator decides with a note.
    let resp = w.craft(&op, &w.hh, None, "edit by operator", t, |d| {
        let i = obj(d, &["identity"]);
        d.put(&i, "address", "Jl. Benar 5").unwrap();
    });
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    let resp = w.craft(&fas, &w.hh, None, "resolve by fasilitator", t, |d| {
        d.put(ROOT, "status", "found").unwrap();
        let r = obj(d, &["resolutions"]);
        let c = d.put_object(&r, "c-2", ObjType::Map).unwrap();
        d.put(&c, "kind", "divergent_visits").unwrap();
        d.put(&c, "by", "fasilitator").unwrap();
        d.put(&c, "at", ScalarValue::Timestamp(now())).unwrap();
        d.put(&c, "pick", 1).unwrap();
        let n = obj(d, &["notes"]);
        let o = d.put_object(&n, "n-2", ObjType::Map).unwrap();
        d.put(&o, "text", "Sudah dicek").unwrap();
        d.put(&o, "by", "fasilitator").unwrap();
        d.put(&o, "at", now()).unwrap();
    });
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
}

#[test]
fn a_stolen_actor_id_is_refused_and_its_owner_keeps_syncing() {
    let w = World::new();
    let a = w.login("kader-a", 0xa6);
    let b = w.login("kader-b", 0xb6);
    let before = w.s.document(&w.hh).unwrap().unwrap();
    let export = w.export();
    // kader-a writes an honest-looking visit under kader-b's actor (seq 1).
    let resp = w.craft(
        &a,
        &w.hh,
        Some(&b.author.actor),
        "visit by kader-a",
        now(),
        |d| {
            d.put(ROOT, "status", "found").unwrap();
        },
    );
    w.refused(
        "foreign actor",
        (&before, &export),
        &resp,
        &w.hh,
        "foreign_actor",
    );
    // kader-a logs in again claiming kader-b's device key and actor: the actor stays
    // kader-b's (it moves only between logins of the same user).
    let claim =
        w.s.login(
            "kader-a",
            PW,
            "test",
            Some(b.key.verifying_key().to_bytes()),
            std::slice::from_ref(&b.author.actor),
            true,
        )
        .unwrap()
        .expect("login");
    let thief = w.s.authenticate(&claim.token).unwrap().unwrap();
    let resp =
        w.s.sync(
            &thief,
            &SyncRequest {
                push: vec![{
                    let mut doc = w.doc(&w.hh);
                    let heads = doc.get_heads();
                    doc.set_actor(b.author.actor.clone());
                    doc.put(ROOT, "status", "died").unwrap();
                    doc.commit_with(
                        CommitOptions::default()
                            .with_message("visit by kader-a")
                            .with_time(now()),
                    );
                    changes_since(&mut doc, &w.hh, &heads)
                }],
                ..SyncRequest::default()
            },
            1000,
        )
        .unwrap();
    assert_eq!(
        resp.rejected[0].code, "foreign_actor",
        "{:?}",
        resp.rejected
    );
    // kader-b's own first change under that actor is accepted.
    let (resp, _) = w.visit(&b, &w.hh);
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    // An actor no device holds yet is bound to the first device that pushes it.
    let fresh = ActorId::from(vec![0x77; 16]);
    let resp = w.craft(&a, &w.hh, Some(&fresh), "visit by kader-a", now(), |d| {
        d.put(ROOT, "status", "moved").unwrap();
    });
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    let resp = w.craft(&b, &w.hh, Some(&fresh), "visit by kader-b", now(), |d| {
        d.put(ROOT, "status", "found").unwrap();
    });
    assert_eq!(resp.rejected[0].code, "foreign_actor");
}

#[test]
fn no_device_can_make_a_household_huge_or_a_request_endless() {
    let w = World::with_limits(Limits {
        docs_per_request: 5,
        ..Limits::default()
    });
    let a = w.login("kader-a", 0xa7);
    let b = w.login("kader-b", 0xb7);
    let op = w.login("operator", 0x07);
    // One change over 256 KiB: a visit with a 300 KB note.
    let before = w.s.document(&w.hh).unwrap().unwrap();
    let export = w.export();
    let big = "x".repeat(300 * 1024);
    let resp = w.craft(&a, &w.hh, None, "visit by kader-a", now(), |d| {
        d.put(ROOT, "status", big.as_str()).unwrap();
    });
    w.refused(
        "a 300 KB change",
        (&before, &export),
        &resp,
        &w.hh,
        "too_large",
    );
    // Visits with long notes, pushed 100 at a time: the household stops growing at
    // 4 MiB, with nothing of the refused push stored.
    let chunk: String = (0..1000).map(|i| format!("{i:04x}")).collect();
    let mut refused = None;
    for round in 0..20 {
        let mut doc = w.doc(&w.hh);
        let heads = doc.get_heads();
        doc.set_actor(a.author.actor.clone());
        for i in 0..100 {
            let v = obj(&doc, &["visits"]);
            let key = format!("v-{round}-{i}");
            let o = doc.put_object(&v, key.as_str(), ObjType::Map).unwrap();
            doc.put(&o, "notes", &chunk[(i % 7)..(i % 7) + 3990])
                .unwrap();
            doc.commit_with(
                CommitOptions::default()
                    .with_message("visit by kader-a")
                    .with_time(now()),
            );
        }
        let before = w.s.document(&w.hh).unwrap().unwrap();
        let resp = w.push(&a, vec![changes_since(&mut doc, &w.hh, &heads)]);
        if let Some(r) = resp.rejected.first() {
            assert_eq!(r.code, "too_large", "{r:?}");
            assert_eq!(w.s.document(&w.hh).unwrap().unwrap(), before);
            refused = Some(round);
            break;
        }
    }
    let round = refused.expect("the household grew without limit");
    assert!(round >= 5, "refused only past 4 MiB (round {round})");
    assert!(w.s.document(&w.hh).unwrap().unwrap().len() <= 4 * 1024 * 1024);
    // Everyone else keeps syncing.
    let (resp, _) = w.visit(&b, &w.hh);
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    let pulled =
        w.s.sync(&op.session, &SyncRequest::default(), 1000)
            .unwrap();
    assert!(!pulled.docs.is_empty());

    // Over the documents-per-request cap: the rest is deferred, not stored.
    let mut rng = rand::thread_rng();
    let docs: Vec<PushDoc> = (0..7)
        .map(|i| {
            let p = Proposal {
                head_name: format!("Baru {i}"),
                head_birth_date: None,
                nik: None,
                kk: None,
                address: "Jl. 1".into(),
                kelurahan: KEL.into(),
                rw: 1,
                rt: 1,
            };
            let id = format!("hh-pnew-{i}");
            let mut h = Household::propose(&id, &p, &a.author, now(), &mut rng).unwrap();
            changes_since(h.doc_mut(), &id, &[])
        })
        .collect();
    let resp = w.push(&a, docs);
    let deferred: Vec<_> = resp
        .rejected
        .iter()
        .filter(|r| r.code == "too_many")
        .collect();
    assert_eq!(deferred.len(), 2, "{:?}", resp.rejected);
    assert!(w.s.document("hh-pnew-6").unwrap().is_none());
    assert!(w.s.document("hh-pnew-0").unwrap().is_some());
}

/// After a restore, a device may relay work of other known devices, judged as its
/// owner's (`identity`). A device that only claims a restore gains no rights by it: a
/// kader's device cannot slip in an edit written under the operator's actor, which the
/// operator's own device may send.
#[test]
fn a_relay_after_a_restore_lends_no_rights() {
    let w = World::new();
    let a = w.login("kader-a", 0xa8);
    let op = w.login("operator", 0x08);
    let former = w.s.server_id().unwrap();
    let now_id = w.s.restored(None).unwrap();
    let mut doc = w.doc(&w.hh);
    let heads = doc.get_heads();
    doc.set_actor(op.author.actor.clone());
    let i = obj(&doc, &["identity"]);
    doc.put(&i, "address", "Jl. Koreksi Kantor 1").unwrap();
    doc.commit_with(CommitOptions::default().with_time(now()));
    let edit = changes_since(&mut doc, &w.hh, &heads);
    let before = w.s.document(&w.hh).unwrap().unwrap();
    let claimed = SyncRequest {
        push: vec![edit.clone()],
        server_id: Some(now_id),
        restored_from: Some(former),
        ..SyncRequest::default()
    };
    let resp = w.s.sync(&a.session, &claimed, 1000).unwrap();
    assert!(
        resp.rejected.iter().any(|r| r.code == "forbidden"),
        "{:?}",
        resp.rejected
    );
    assert_eq!(w.s.document(&w.hh).unwrap().unwrap(), before);
    // The operator's own device sends it: the operator's right.
    let own = SyncRequest {
        push: vec![edit],
        server_id: Some(now_id),
        ..SyncRequest::default()
    };
    let resp = w.s.sync(&op.session, &own, 1000).unwrap();
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    assert_ne!(w.s.document(&w.hh).unwrap().unwrap(), before);
}

#[test]
fn relayed_work_is_judged_by_the_device_that_signed_it() {
    let w = World::new();
    let a = w.login("kader-a", 0xa8);
    let op = w.login("operator", 0x08);
    let bundle_of = |dev: &Dev, user: &str, docs: Vec<PushDoc>| {
        bundle::write(
            &BundlePayload {
                device: dev.session.device.clone(),
                user: user.into(),
                role: Role::Kader,
                device_key: ByteBuf::from(dev.key.verifying_key().to_bytes().to_vec()),
                certificate: ByteBuf::from(dev.certificate.clone()),
                created_at: now(),
                docs,
                relays: Vec::new(),
            },
            &dev.key,
        )
    };
    // The kader's address edit, refused from the kader's own session...
    let mut doc = w.doc(&w.hh);
    let heads = doc.get_heads();
    doc.set_actor(a.author.actor.clone());
    let i = obj(&doc, &["identity"]);
    doc.put(&i, "address", "Jl. Palsu 9").unwrap();
    doc.commit_with(
        CommitOptions::default()
            .with_message("edit by kader-a")
            .with_time(now()),
    );
    let edit = changes_since(&mut doc, &w.hh, &heads);
    let before = w.s.document(&w.hh).unwrap().unwrap();
    let export = w.export();
    let resp = w.push(&a, vec![edit.clone()]);
    w.refused(
        "kader's own edit",
        (&before, &export),
        &resp,
        &w.hh,
        "forbidden",
    );
    // ... is refused when the operator's device relays it in a bundle, and when the
    // operator pushes the same changes as its own.
    let req = SyncRequest {
        bundles: vec![ByteBuf::from(bundle_of(&a, "kader-a", vec![edit.clone()]))],
        push: vec![edit.clone()],
        ..SyncRequest::default()
    };
    let resp = w.s.sync(&op.session, &req, 1000).unwrap();
    assert!(
        resp.rejected.iter().any(|r| r.code == "forbidden"),
        "{:?}",
        resp.rejected
    );
    assert!(
        resp.rejected.iter().any(|r| r.code == "foreign_actor"),
        "{:?}",
        resp.rejected
    );
    assert_eq!(w.s.document(&w.hh).unwrap().unwrap(), before);

    // A revoked device's honest visit, relayed: refused as revoked.
    let mut hh = Household::load_as(&before, &a.author).unwrap();
    let h0 = hh.heads();
    hh.record_visit(
        &VisitInput {
            result: "found".into(),
            answers: answered(&w.set, serde_json::json!({})),
            ..VisitInput::default()
        },
        &w.set,
        &a.author,
        &SystemClock,
        &mut rand::thread_rng(),
    )
    .unwrap();
    let visit = changes_since(hh.doc_mut(), &w.hh, &h0);
    let file = bundle_of(&a, "kader-a", vec![visit]);
    assert!(w.s.revoke_device(&a.session.device).unwrap());
    let req = SyncRequest {
        bundles: vec![ByteBuf::from(file.clone())],
        ..SyncRequest::default()
    };
    let resp = w.s.sync(&op.session, &req, 1000).unwrap();
    assert_eq!(
        resp.rejected[0].code, "revoked_signer",
        "{:?}",
        resp.rejected
    );
    assert!(
        w.s.import_bundle(&file).is_err(),
        "the admin's bundle-import refuses it too"
    );
    assert_eq!(w.s.document(&w.hh).unwrap().unwrap(), before);
}

/// These answers, every other criterion "tidak tahu" (a found visit answers all).
fn answered(
    set: &IndicatorSet,
    answers: serde_json::Value,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    let mut answers = serde_json::from_value(answers).unwrap();
    set.mark_unanswered_unknown(&mut answers);
    answers
}

#[test]
fn no_competing_entries_no_bombs_no_hidden_heads_no_forged_imports() {
    let w = World::new();
    let a = w.login("kader-a", 0xa9);
    let b = w.login("kader-b", 0xb9);
    // kader-b records a visit with a newborn; kader-a, on a copy from before it, makes
    // a map at the same visit id and the same member id: two maps side by side would
    // let the newer hide the real one.
    let old = w.doc(&w.hh);
    let old_heads = old.clone().get_heads();
    let mut hh = Household::load_as(&w.s.document(&w.hh).unwrap().unwrap(), &b.author).unwrap();
    let h0 = hh.heads();
    let input = VisitInput {
        result: "found".into(),
        answers: answered(&w.set, serde_json::json!({})),
        new_members: vec![serde_json::from_value(
            serde_json::json!({"name": "Bayi", "relation": "child"}),
        )
        .unwrap()],
        ..VisitInput::default()
    };
    let vid = hh
        .record_visit(
            &input,
            &w.set,
            &b.author,
            &SystemClock,
            &mut rand::thread_rng(),
        )
        .unwrap();
    let resp = w.push(&b, vec![changes_since(hh.doc_mut(), &w.hh, &h0)]);
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    let newborn = hh
        .members_index()
        .into_iter()
        .find(|(_, m)| m.name == "Bayi")
        .unwrap()
        .0;
    for (what, path) in [
        ("competing visit", vec!["visits", vid.as_str()]),
        ("competing member", vec!["members", newborn.as_str()]),
    ] {
        let before = w.s.document(&w.hh).unwrap().unwrap();
        let export = w.export();
        let mut fork = old.clone();
        fork.set_actor(a.author.actor.clone());
        let parent = obj(&fork, &[path[0]]);
        let o = fork.put_object(&parent, path[1], ObjType::Map).unwrap();
        let field = if path[0] == "visits" {
            "result"
        } else {
            "name"
        };
        fork.put(&o, field, "died").unwrap();
        fork.commit_with(
            CommitOptions::default()
                .with_message("visit by kader-a")
                .with_time(now()),
        );
        let resp = w.push(&a, vec![changes_since(&mut fork, &w.hh, &old_heads)]);
        w.refused(what, (&before, &export), &resp, &w.hh, "forbidden");
    }

    let t = now();
    type Edit = Box<dyn Fn(&mut AutoCommit)>;
    let cases: Vec<(&str, &str, &str, Edit)> = vec![
        (
            "30,000 operations in one change",
            "too_large",
            "visit by kader-a",
            Box::new(|d| {
                let v = obj(d, &["visits"]);
                let o = d.put_object(&v, "v-bomb", ObjType::Map).unwrap();
                let ans = d.put_object(&o, "answers", ObjType::Map).unwrap();
                for i in 0..30_000 {
                    d.put(&ans, format!("k{i}").as_str(), 1).unwrap();
                }
            }),
        ),
        (
            "a new member named head",
            "forbidden",
            "visit by kader-a",
            Box::new(|d| {
                let m = obj(d, &["members"]);
                let o = d.put_object(&m, "m-0000", ObjType::Map).unwrap();
                d.put(&o, "name", "Orang Lain").unwrap();
                d.put(&o, "relation", "head").unwrap();
            }),
        ),
        (
            "a kader stamping an import (later imports start from the stamp)",
            "forbidden",
            "visit by kader-a",
            Box::new(|d| {
                let r = obj(d, &["registry"]);
                d.put(&r, "imported", ScalarValue::Timestamp(now()))
                    .unwrap();
            }),
        ),
    ];
    for (what, code, message, edit) in cases {
        let before = w.s.document(&w.hh).unwrap().unwrap();
        let export = w.export();
        let resp = w.craft(&a, &w.hh, None, message, t, |d| edit(d));
        w.refused(what, (&before, &export), &resp, &w.hh, code);
    }

    // A proposal whose flag is then deleted is not a proposal.
    let proposal = Proposal {
        head_name: "Keluarga Baru".into(),
        head_birth_date: None,
        nik: None,
        kk: None,
        address: "Jl. Baru 1".into(),
        kelurahan: KEL.into(),
        rw: 1,
        rt: 1,
    };
    let mut p = Household::propose(
        "hh-punflag",
        &proposal,
        &a.author,
        now(),
        &mut rand::thread_rng(),
    )
    .unwrap();
    p.doc_mut().delete(ROOT, "proposal").unwrap();
    p.doc_mut().commit_with(
        CommitOptions::default()
            .with_message("propose by kader-a")
            .with_time(now()),
    );
    let resp = w.push(&a, vec![changes_since(p.doc_mut(), "hh-punflag", &[])]);
    assert_eq!(resp.rejected[0].code, "forbidden", "{:?}", resp.rejected);
    assert!(w.s.document("hh-punflag").unwrap().is_none());
}

/// A household has one first change. A device that creates a household the server
/// already holds (its own first import of a registry household) is refused with
/// `already_held`, and the document stays as it was; a new household pushed with two
/// first changes (two copies of every field, each hiding the other) is refused whole.
#[test]
fn one_household_one_first_change() {
    let w = World::new();
    let op = w.login("operator", 0x0c);
    let before = w.s.document(&w.hh).unwrap().unwrap();
    let export = w.export();
    let mut fresh = AutoCommit::new();
    fresh.set_actor(op.author.actor.clone());
    fresh.put(ROOT, "id", w.hh.as_str()).unwrap();
    fresh.put_object(ROOT, "members", ObjType::Map).unwrap();
    fresh.commit_with(
        CommitOptions::default()
            .with_message("import")
            .with_time(now()),
    );
    let resp = w.push(&op, vec![changes_since(&mut fresh, &w.hh, &[])]);
    w.refused(
        "a second first import",
        (&before, &export),
        &resp,
        &w.hh,
        "already_held",
    );

    let a = w.login("kader-a", 0xa7);
    let id = "hh-p-0123456789abcdef";
    let mut one = AutoCommit::new();
    one.set_actor(a.author.actor.clone());
    one.put(ROOT, "id", id).unwrap();
    one.commit_with(CommitOptions::default().with_time(now()));
    let mut two = AutoCommit::new();
    two.set_actor(ActorId::from(&[0xa7, 0x01, 0x02, 0x03][..]));
    two.put(ROOT, "id", id).unwrap();
    two.commit_with(CommitOptions::default().with_time(now()));
    one.merge(&mut two).unwrap();
    let resp = w.push(&a, vec![changes_since(&mut one, id, &[])]);
    let r = resp.rejected.iter().find(|r| r.id == id).expect("refused");
    assert_eq!(r.code, "bad_changes", "{}", r.reason);
    assert!(w.s.document(id).unwrap().is_none(), "nothing stored");
}
