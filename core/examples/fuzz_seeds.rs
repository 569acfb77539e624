//! Writes the fuzz targets' seed corpus (`fuzz/corpus/<target>/`): small valid inputs
//! of each decoder in `jemput_core::untrusted`, made with the project's own encoders.
//! Run from the repository: `cargo run -p jemput-core --example fuzz_seeds`.

use std::path::Path;

use ed25519_dalek::SigningKey;
use jemput_core::bundle::{self, BundlePayload};
use jemput_core::household::{Author, Identity, Member, Registry};
use jemput_core::rules::Role;
use jemput_core::sync::{encode, PullDoc, PushDoc, SyncRequest, SyncResponse};
use jemput_core::{Household, IndicatorSet};
use serde_bytes::ByteBuf;

fn put(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(dir.join(name), bytes).unwrap_or_else(|e| panic!("{e}"));
}

fn main() {
    let author = Author::new("0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a0a", "kader-a")
        .unwrap_or_else(|e| panic!("{e}"));
    let identity = Identity {
        id_dtks: Some("R1".into()),
        idbdt: None,
        kk: None,
        address: Some("Jl. Contoh 1".into()),
        kelurahan: "35.73.01.1007".into(),
        kelurahan_bps: None,
        rw: 1,
        rt: 2,
    };
    let head = Member {
        nik: None,
        name: "Kepala Contoh".into(),
        sex: None,
        birth_date: Some("1980-01-01".into()),
        relation: "head".into(),
        presence: "lives_here".into(),
    };
    let mut hh = Household::create(
        "hh-0000000000000001",
        &identity,
        &Registry::default(),
        &[("m-1".into(), head)],
        &author,
        1_790_000_000_000,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let snapshot = hh.save_nocompress();
    let changes: Vec<u8> = hh
        .doc_mut()
        .get_changes(&[])
        .iter()
        .flat_map(|c| c.raw_bytes().to_vec())
        .collect();
    let _ = IndicatorSet::bps14();

    put("sync_request", "empty", &encode(&SyncRequest::default()));
    let push = SyncRequest {
        push: vec![PushDoc {
            id: "hh-0000000000000001".into(),
            changes: ByteBuf::from(changes.clone()),
        }],
        ..SyncRequest::default()
    };
    put("sync_request", "one-push", &encode(&push));
    put("sync_response", "empty", &encode(&SyncResponse::default()));
    let pulled = SyncResponse {
        scope: vec!["35.73.01.1007/1".into()],
        docs: vec![PullDoc {
            id: "hh-0000000000000001".into(),
            kelurahan: "35.73.01.1007".into(),
            rw: 1,
            data: ByteBuf::from(snapshot),
            snapshot: true,
            heads: Vec::new(),
        }],
        ..SyncResponse::default()
    };
    put("sync_response", "one-doc", &encode(&pulled));

    let server = SigningKey::from_bytes(&[7; 32]);
    let device = SigningKey::from_bytes(&[9; 32]);
    let certificate = bundle::certify(
        &server,
        "d-1",
        "kader-a",
        Role::Kader,
        &device.verifying_key().to_bytes(),
    );
    let payload = BundlePayload {
        device: "d-1".into(),
        user: "kader-a".into(),
        device_key: ByteBuf::from(device.verifying_key().to_bytes().to_vec()),
        role: Role::Kader,
        certificate: ByteBuf::from(certificate),
        created_at: 1_790_000_000_000,
        docs: vec![PushDoc {
            id: "hh-0000000000000001".into(),
            changes: ByteBuf::from(changes),
        }],
        relays: Vec::new(),
    };
    put("bundle", "one-doc", &bundle::write(&payload, &device));
    // A file encrypted to the fuzz target's key (and another): the fuzzer explores the
    // age header, the decryption and the signed bundle inside.
    let (_, someone) = bundle::new_identity();
    let fuzz_key = bundle::recipient_of(jemput_core::untrusted::FUZZ_IDENTITY).unwrap_or_default();
    if let Ok(sealed) = bundle::seal(&bundle::write(&payload, &device), &[someone, fuzz_key]) {
        put("bundle", "sealed", &sealed);
    }

    put(
        "registry_csv",
        "dtks",
        "ID DTKS;NIK;Nama;Alamat;RW;RT;Desil\nR1;3573014107800001;Sri;Jl. A 1;1;2;3\nR1;3573010101800002;Budi;Jl. A 1;1;2;3\n".as_bytes(),
    );
    put(
        "registry_csv",
        "dtsen",
        "nomor_kartu_keluarga,nomor_induk_kependudukan,nama,jenis_kelamin,tanggal_lahir,status_hubungan_keluarga,kode_kelurahan_desa,desil_nasional\n3573010101800009,3573014107800001,Sri,P,1980-07-01,Kepala Keluarga,3573010007,2\n".as_bytes(),
    );
    let mut wb = rust_xlsxwriter::Workbook::new();
    let sheet = wb.add_worksheet();
    for (c, h) in ["ID DTKS", "NIK", "Nama", "RW", "RT"].iter().enumerate() {
        sheet
            .write_string(0, c as u16, *h)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for (c, v) in ["R1", "3573014107800001", "Sri", "1", "2"]
        .iter()
        .enumerate()
    {
        sheet
            .write_string(1, c as u16, *v)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let xlsx = wb.save_to_buffer().unwrap_or_else(|e| panic!("{e}"));
    put("registry_workbook", "small.xlsx", &xlsx);
}
