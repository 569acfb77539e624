//! A synthetic Kelurahan Purwantoro (Kota Malang, 35.73.01.1007) for demos and tests:
//! 24 RWs with 155 RTs, about 350 registry households with members, valid-format NIK
//! and KK numbers that belong to no real person, desil and programme memberships.
//! Deterministic for a seed.

use std::collections::BTreeSet;

use jemput_core::household::{Author, Household, Identity, Member, Registry};
use jemput_core::nik::{Kk, Nik, Sex};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::service::NewHousehold;

pub const KELURAHAN: &str = "35.73.01.1007";
pub const KELURAHAN_BPS: &str = "3573010007";
/// NIK/KK region prefix of Kecamatan Blimbing, Kota Malang.
const REGION: &str = "357301";
pub const DEMO_PASSWORD: &str = "jemput-demo";
/// 2026-01-05 08:00 UTC: the import time stamped on demo documents.
const IMPORTED_AT_MS: i64 = 1_767_600_000_000;

const MALE: &[&str] = &[
    "Agus", "Budi", "Slamet", "Joko", "Eko", "Hadi", "Rudi", "Bambang", "Sugeng", "Wahyu", "Yusuf",
    "Arif", "Dedi", "Heru", "Imam", "Teguh", "Rizky", "Fajar", "Dimas", "Bayu",
];
const FEMALE: &[&str] = &[
    "Siti", "Sri", "Dewi", "Wati", "Rina", "Yuli", "Ani", "Tutik", "Endang", "Lestari", "Nur",
    "Fitri", "Indah", "Ayu", "Putri", "Rahayu", "Ratna", "Sari", "Umi", "Wulan",
];
const FAMILY: &[&str] = &[
    "Santoso",
    "Wibowo",
    "Susanto",
    "Hidayat",
    "Prasetyo",
    "Kurniawan",
    "Setiawan",
    "Utomo",
    "Purnomo",
    "Saputra",
    "Rahmawati",
    "Lestari",
    "Handayani",
    "Wahyuni",
    "Suryani",
    "Hartono",
];
const STREETS: &[&str] = &[
    "Jl. Letjen S. Parman",
    "Jl. Ciliwung",
    "Jl. Kalimantan",
    "Jl. Sumbawa",
    "Jl. Sulawesi",
    "Jl. Hamid Rusdi",
    "Jl. Teluk Grajakan",
    "Jl. Bengawan Solo",
];

/// RTs per RW: 24 RWs, 155 RTs in all (11 RWs with 7, 13 with 6).
pub fn rts_in_rw(rw: u16) -> u16 {
    if rw <= 11 {
        7
    } else {
        6
    }
}

pub struct DemoUser {
    pub name: String,
    pub role: &'static str,
    pub rw: Option<u16>,
}

pub fn demo_users() -> Vec<DemoUser> {
    let mut users = vec![
        DemoUser {
            name: "demo-operator".into(),
            role: "operator",
            rw: None,
        },
        DemoUser {
            name: "demo-fasilitator".into(),
            role: "fasilitator",
            rw: None,
        },
    ];
    for rw in 1..=3 {
        users.push(DemoUser {
            name: format!("demo-kader-rw{rw:02}"),
            role: "kader",
            rw: Some(rw),
        });
    }
    users
}

fn pick<'a>(rng: &mut ChaCha8Rng, list: &[&'a str]) -> &'a str {
    list[rng.gen_range(0..list.len())]
}

fn birth(rng: &mut ChaCha8Rng, from: i32, to: i32) -> (i32, u8, u8) {
    (
        rng.gen_range(from..=to),
        rng.gen_range(1..=12),
        rng.gen_range(1..=28),
    )
}

fn unique_nik(
    rng: &mut ChaCha8Rng,
    used: &mut BTreeSet<String>,
    sex: Sex,
    (y, m, d): (i32, u8, u8),
) -> String {
    loop {
        let day = if sex == Sex::P { d + 40 } else { d };
        let s = format!(
            "{REGION}{day:02}{m:02}{:02}{:04}",
            y % 100,
            rng.gen_range(1..=9999)
        );
        if Nik::parse(&s).is_ok() && used.insert(s.clone()) {
            return s;
        }
    }
}

fn person(
    rng: &mut ChaCha8Rng,
    used: &mut BTreeSet<String>,
    sex: Sex,
    family: &str,
    relation: &str,
    years: (i32, i32),
) -> Member {
    let first = if sex == Sex::L {
        pick(rng, MALE)
    } else {
        pick(rng, FEMALE)
    };
    let b = birth(rng, years.0, years.1);
    Member {
        nik: Some(unique_nik(rng, used, sex, b)),
        name: format!("{first} {family}"),
        sex: Some(sex),
        birth_date: Some(format!("{:04}-{:02}-{:02}", b.0, b.1, b.2)),
        relation: relation.into(),
        presence: "lives_here".into(),
    }
}

/// One family: a head, often a spouse, up to four children, and its KK number.
fn family(rng: &mut ChaCha8Rng, used: &mut BTreeSet<String>) -> (Vec<Member>, String) {
    let family = pick(rng, FAMILY);
    let head_sex = if rng.gen_bool(0.8) { Sex::L } else { Sex::P };
    let mut members = vec![person(rng, used, head_sex, family, "head", (1950, 1990))];
    if head_sex == Sex::L && rng.gen_bool(0.75) {
        members.push(person(rng, used, Sex::P, family, "spouse", (1955, 1995)));
    }
    for _ in 0..rng.gen_range(0..=4) {
        let sex = if rng.gen_bool(0.5) { Sex::L } else { Sex::P };
        members.push(person(rng, used, sex, family, "child", (1995, 2024)));
    }
    let kk = loop {
        let s = format!(
            "{REGION}{:02}{:02}{:02}{:04}",
            rng.gen_range(1..=28),
            rng.gen_range(1..=12),
            rng.gen_range(5..=25),
            rng.gen_range(1..=9999)
        );
        if Kk::parse(&s).is_ok() && used.insert(s.clone()) {
            break s;
        }
    };
    (members, kk)
}

/// About 350 registry households, spread over the 24 RWs.
pub fn households(seed: u64) -> Result<Vec<NewHousehold>, String> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let count = 340 + rng.gen_range(0..21);
    households_n(&mut rng, seed, count, 24)
}

/// `count` registry households spread over RW 1..=`rws` (benchmarks use thousands).
pub fn households_n(
    rng: &mut ChaCha8Rng,
    seed: u64,
    count: usize,
    rws: u16,
) -> Result<Vec<NewHousehold>, String> {
    let author =
        Author::new(&format!("de30{seed:012x}"), "import-dinsos").map_err(|e| e.to_string())?;
    let mut used = BTreeSet::new();
    let mut out = Vec::new();
    for i in 0..count {
        let rw: u16 = rng.gen_range(1..=rws.clamp(1, 24));
        let rt: u16 = rng.gen_range(1..=rts_in_rw(rw));
        let (members, kk) = family(rng, &mut used);
        let identity = Identity {
            id_dtks: Some(format!("{KELURAHAN_BPS}{:06}", 100_000 + i)),
            idbdt: Some(format!("BDT{:08}", rng.gen_range(0..100_000_000u32))),
            kk: Some(kk),
            address: Some(format!(
                "{} No. {}",
                pick(rng, STREETS),
                rng.gen_range(1..=250)
            )),
            kelurahan: KELURAHAN.into(),
            kelurahan_bps: Some(KELURAHAN_BPS.into()),
            rw,
            rt,
        };
        let registry = Registry {
            desil: Some(rng.gen_range(1..=4)),
            pkh: rng.gen_bool(0.35),
            bpnt: rng.gen_bool(0.5),
            pbi_jk: rng.gen_bool(0.7),
            kip: rng.gen_bool(0.2),
        };
        let id = format!("hh-{:016x}", rng.gen::<u64>());
        let members: Vec<(String, Member)> = members
            .into_iter()
            .map(|m| (format!("m-{:016x}", rng.gen::<u64>()), m))
            .collect();
        let mut hh =
            Household::create(&id, &identity, &registry, &members, &author, IMPORTED_AT_MS)
                .map_err(|e| e.to_string())?;
        out.push(NewHousehold {
            id,
            kelurahan: KELURAHAN.into(),
            rw,
            rt,
            doc: hh.save(),
            by: author.user.clone(),
        });
    }
    Ok(out)
}

/// Column names of the demo registry file, as Dinas Sosial exports name them.
pub const REGISTRY_COLUMNS: [&str; 18] = [
    "ID DTKS",
    "IDBDT",
    "ID ART",
    "NIK",
    "No KK",
    "Nama",
    "Hubungan dengan KRT/KK",
    "Jenis Kelamin",
    "Tanggal Lahir",
    "Alamat",
    "RT",
    "RW",
    "Kode Wilayah",
    "Desil",
    "PKH",
    "BPNT",
    "PBI",
    "KIP",
];

/// A registry file of `count` households of Kelurahan Purwantoro as Dinas Sosial
/// hands it over: a header and one row per member (about four per household), every
/// cell text. Deterministic for a seed; the people are invented.
pub fn registry_rows(seed: u64, count: usize, rws: u16) -> Vec<Vec<String>> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut used = BTreeSet::new();
    let mut out = vec![REGISTRY_COLUMNS.iter().map(|c| c.to_string()).collect()];
    let yes = |b: bool| if b { "Ya" } else { "Tidak" }.to_string();
    for i in 0..count {
        let rw: u16 = rng.gen_range(1..=rws.clamp(1, 24));
        let rt: u16 = rng.gen_range(1..=rts_in_rw(rw));
        let (members, kk) = family(&mut rng, &mut used);
        let id_dtks = format!("{KELURAHAN_BPS}{:07}", i + 1);
        let idbdt = format!("BDT{:09}", i + 1);
        let address = format!("{} No. {}", pick(&mut rng, STREETS), rng.gen_range(1..=250));
        let desil = rng.gen_range(1..=4).to_string();
        let progs = [
            rng.gen_bool(0.35),
            rng.gen_bool(0.5),
            rng.gen_bool(0.7),
            rng.gen_bool(0.2),
        ];
        for (j, m) in members.into_iter().enumerate() {
            let relation = match m.relation.as_str() {
                "head" => "1. Kepala Rumah Tangga",
                "spouse" => "2. Istri/Suami",
                _ => "3. Anak",
            };
            out.push(vec![
                id_dtks.clone(),
                idbdt.clone(),
                format!("{idbdt}{:02}", j + 1),
                m.nik.unwrap_or_default(),
                kk.clone(),
                m.name,
                relation.into(),
                if m.sex == Some(Sex::L) {
                    "Laki-laki"
                } else {
                    "Perempuan"
                }
                .into(),
                m.birth_date.unwrap_or_default(),
                address.clone(),
                format!("{rt:03}"),
                format!("{rw:03}"),
                KELURAHAN_BPS.into(),
                desil.clone(),
                yes(progs[0]),
                yes(progs[1]),
                yes(progs[2]),
                yes(progs[3]),
            ]);
        }
    }
    out
}

/// Writes rows as CSV (`;`-separated, as Excel writes it on Indonesian Windows).
pub fn write_csv(path: &std::path::Path, rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut w = csv::WriterBuilder::new().delimiter(b';').from_path(path)?;
    for r in rows {
        w.write_record(r)?;
    }
    w.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_is_deterministic_and_realistic() {
        let a = households(7).expect("demo");
        let b = households(7).expect("demo");
        assert_eq!(a.len(), b.len());
        assert!(
            a.iter()
                .zip(&b)
                .all(|(x, y)| x.id == y.id && x.doc == y.doc),
            "same seed, same data"
        );
        assert!((340..=360).contains(&a.len()));
        let rws: BTreeSet<u16> = a.iter().map(|h| h.rw).collect();
        assert_eq!(rws.len(), 24, "every RW has households");
        assert_eq!((1..=24).map(rts_in_rw).sum::<u16>(), 155);
        let c = households(8).expect("demo");
        assert_ne!(a[0].id, c[0].id, "another seed, other data");
    }
}
