//! A phone whose date is wrong: the device corrects its clock by the server's at each
//! sync, so its work is stamped with the real time and accepted; when its clock goes
//! back behind the last sync, it refuses to record instead of making work the server
//! would refuse.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use jemput_client::{Device, SyncClient};
use jemput_core::household::{Clock, VisitInput};
use jemput_core::{IndicatorSet, SystemClock};
use jemput_tests::Server;

const DAY: i64 = 24 * 3600 * 1000;

struct Skewed(Arc<AtomicI64>);
impl Clock for Skewed {
    fn now_ms(&self) -> i64 {
        SystemClock.now_ms() + self.0.load(Ordering::Relaxed)
    }
}

#[test]
fn a_phone_with_a_wrong_date_still_records_honest_times() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data = tmp.path().join("server");
    Server::admin(&data, &["demo", "--seed", "45"]);
    let server = Server::start(&data, "127.0.0.1:0");
    let skew = Arc::new(AtomicI64::new(-3 * DAY));
    let device = Device::open_with(
        &tmp.path().join("k"),
        Box::new(Skewed(skew.clone())),
        &jemput_client::keys::Unlock::KeyFile(tmp.path().join("keys")),
    )
    .expect("device");
    let set = IndicatorSet::bps14();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = SyncClient::new();
    rt.block_on(device.login(
        &client,
        &server.url(),
        None,
        "demo-kader-rw01",
        "jemput-demo",
        "hp",
    ))
    .expect("login");
    // Measured at login already: work before the first sync is stamped right too.
    assert!(device.work_clock().expect("clock").0 - SystemClock.now_ms() > -60_000);
    rt.block_on(client.sync(&device, &set)).expect("first sync");
    let id = device
        .households(None, jemput_core::store::ListFilter::All)
        .expect("list")[0]
        .id
        .clone();
    let mut input = VisitInput {
        result: "found".into(),
        ..VisitInput::default()
    };
    set.mark_unanswered_unknown(&mut input.answers);
    let vid = device.record_visit(&id, &input, &set).expect("visit");
    let report = rt.block_on(client.sync(&device, &set)).expect("sync");
    assert_eq!(
        report.rejected, 0,
        "stamped with the corrected time: {report}"
    );
    let at = device.show(&id, &set).expect("show")["visits"][&vid]["at"]
        .as_i64()
        .expect("at");
    assert!(
        (at - SystemClock.now_ms()).abs() < 60_000,
        "the visit carries the real time, not the phone's"
    );

    // The phone's clock jumps three days ahead after the sync: the work it records
    // carries that time, the server refuses it (`bad_time`), and the device records it
    // again at the server's time in the same sync instead of dropping it.
    skew.store(0, Ordering::Relaxed);
    device
        .saw_server_time(SystemClock.now_ms())
        .expect("offset");
    skew.store(3 * DAY, Ordering::Relaxed);
    let late = device.record_visit(&id, &input, &set).expect("visit");
    let recorded = device.show(&id, &set).expect("show")["visits"][&late]["at"]
        .as_i64()
        .expect("at");
    assert!(
        recorded - SystemClock.now_ms() > 2 * DAY,
        "the clock was wrong"
    );
    let report = rt.block_on(client.sync(&device, &set)).expect("sync");
    assert_eq!(report.re_recorded, 1, "{report}");
    assert_eq!(report.rejected, 0, "accepted once recorded again: {report}");
    let visit = &device.show(&id, &set).expect("show")["visits"][&late];
    let at = visit["at"].as_i64().expect("at");
    assert!(
        (at - SystemClock.now_ms()).abs() < 60_000,
        "recorded again at the server's time: {visit}"
    );
    assert_eq!(visit["result"], "found", "nothing of the visit was lost");
    let stats = device.sync_stats().expect("stats");
    assert_eq!((stats.pending, stats.rejected), (0, 0), "sent and taken");
    let file = tmp.path().join("doc.automerge");
    Server::admin(&data, &["doc", &id, "--out", file.to_str().expect("path")]);
    let held = std::fs::read(&file).expect("server's document");
    let held = jemput_core::household::Household::load(&held).expect("loads");
    assert!(
        held.view(&set)["visits"].get(&late).is_some(),
        "the server holds the visit"
    );

    // The phone's clock goes back a week after the sync: recording is refused.
    skew.store(-10 * DAY, Ordering::Relaxed);
    let err = device.record_visit(&id, &input, &set).expect_err("refused");
    assert!(err.to_string().contains("clock"), "{err}");
}
