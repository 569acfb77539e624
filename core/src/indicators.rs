//! Indicator sets as data: the 14 BPS criteria (or any later set) loaded from a TOML
//! file, raw answers validated against them, and a visit scored from its raw answers.
//!
//! Visits store raw answers (a floor area, a material, yes/no), never "met": the set's
//! parameters are applied at read time, so changing a threshold re-scores old visits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The set shipped with Jemput (`core/indicators/bps14.toml`).
pub const BPS14_TOML: &str = include_str!("../indicators/bps14.toml");

#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
    #[error("indicator file is not valid: {0}")]
    File(#[from] toml::de::Error),
    #[error("indicator set is inconsistent: {0}")]
    Inconsistent(String),
    #[error("unknown criterion `{0}`")]
    UnknownCriterion(String),
    #[error("answer for `{criterion}` is invalid: {reason}")]
    InvalidAnswer { criterion: String, reason: String },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IndicatorSet {
    pub id: String,
    pub version: String,
    #[serde(default)]
    pub source: String,
    pub poor_if_met_at_least: u32,
    #[serde(rename = "criterion")]
    pub criteria: Vec<Criterion>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Criterion {
    pub n: u32,
    pub id: String,
    pub label_id: String,
    pub label_en: String,
    pub rule: Rule,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub occupations: Vec<String>,
}

/// How a raw answer is turned into met / not met. Each kind fixes the answer's shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    /// Number divided by the household size (members living there) is below `limit`.
    PerPersonBelow { limit: f64 },
    /// Option text; met when it is one of `meets`.
    OneOf { meets: Vec<String> },
    /// Number at most `limit`.
    AtMost { limit: f64 },
    /// Number strictly below `limit`.
    Below { limit: f64 },
    /// Yes/no; met when the answer equals `meets_when`.
    YesNo { meets_when: bool },
    /// Occupation, farm land and income of the household head (criterion 12).
    IncomeSource {
        farmer: String,
        max_land_m2: f64,
        labourers: Vec<String>,
        max_income_rp: f64,
    },
}

/// The answer a kader records when the household does not know or refuses to say:
/// it counts as neither met nor unanswered, and makes the visit incomplete.
pub const UNKNOWN: &str = "tidak_tahu";

/// A raw answer in the shape its criterion asks for ([`UNKNOWN`] is a `Text` for any
/// criterion).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Answer {
    Bool(bool),
    Number(f64),
    Text(String),
    Income {
        occupation: String,
        land_m2: f64,
        income_rp: f64,
    },
}

impl Answer {
    /// "Tidak tahu / menolak menjawab".
    pub fn is_unknown(&self) -> bool {
        matches!(self, Answer::Text(s) if s == UNKNOWN)
    }
}

/// What the UI needs to draw an answer input.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct AnswerShape {
    #[ts(type = "\"number\" | \"option\" | \"yes_no\" | \"income_source\"")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[ts(optional)]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<String>>")]
    pub options: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[ts(optional, as = "Option<Vec<String>>")]
    pub occupations: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct Score {
    /// Criterion ids met, in the set's order.
    pub met: Vec<String>,
    pub score: u32,
    pub poor: bool,
    /// Criteria with no answer at all.
    pub unanswered: Vec<String>,
    /// Criteria answered "tidak tahu / menolak menjawab".
    pub unknown: Vec<String>,
    /// Some criterion is unanswered or unknown: the score is a lower bound.
    pub incomplete: bool,
}

impl IndicatorSet {
    pub fn bps14() -> IndicatorSet {
        // The embedded file is tested below; a broken one fails every test run.
        #[allow(clippy::expect_used)]
        IndicatorSet::from_toml(BPS14_TOML).expect("embedded bps14.toml is valid")
    }

    pub fn from_toml(text: &str) -> Result<IndicatorSet, IndicatorError> {
        let set: IndicatorSet = toml::from_str(text)?;
        for c in &set.criteria {
            if let Rule::OneOf { meets } = &c.rule {
                if let Some(m) = meets.iter().find(|m| !c.options.contains(m)) {
                    return Err(IndicatorError::Inconsistent(format!(
                        "criterion {}: `{m}` is not one of its options",
                        c.id
                    )));
                }
            }
        }
        if set.poor_if_met_at_least as usize > set.criteria.len() {
            return Err(IndicatorError::Inconsistent(
                "poor_if_met_at_least exceeds the number of criteria".into(),
            ));
        }
        Ok(set)
    }

    /// `bps14@2005.1`: recorded on each visit so a reader knows which set it answered.
    pub fn tag(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }

    pub fn criterion(&self, id: &str) -> Option<&Criterion> {
        self.criteria.iter().find(|c| c.id == id)
    }

    /// Checks raw answers from outside (a form, a JSON file) against the set.
    pub fn validate(
        &self,
        answers: &BTreeMap<String, serde_json::Value>,
    ) -> Result<BTreeMap<String, Answer>, IndicatorError> {
        let mut out = BTreeMap::new();
        for (id, raw) in answers {
            let c = self
                .criterion(id)
                .ok_or_else(|| IndicatorError::UnknownCriterion(id.clone()))?;
            if raw.is_null() {
                continue;
            }
            out.insert(id.clone(), c.parse_answer(raw)?);
        }
        Ok(out)
    }

    pub fn score(&self, answers: &BTreeMap<String, Answer>, household_size: usize) -> Score {
        let mut met = Vec::new();
        let mut unanswered = Vec::new();
        let mut unknown = Vec::new();
        for c in &self.criteria {
            match answers.get(&c.id) {
                None => unanswered.push(c.id.clone()),
                Some(a) if a.is_unknown() => unknown.push(c.id.clone()),
                Some(a) => {
                    if c.meets(a, household_size) {
                        met.push(c.id.clone());
                    }
                }
            }
        }
        let score = met.len() as u32;
        Score {
            met,
            score,
            poor: score >= self.poor_if_met_at_least,
            incomplete: !unanswered.is_empty() || !unknown.is_empty(),
            unanswered,
            unknown,
        }
    }

    /// Marks every criterion `answers` leaves out as [`UNKNOWN`] (tests and tools that
    /// record only the criteria they care about).
    pub fn mark_unanswered_unknown(&self, answers: &mut BTreeMap<String, serde_json::Value>) {
        for c in &self.criteria {
            answers
                .entry(c.id.clone())
                .or_insert_with(|| serde_json::Value::from(UNKNOWN));
        }
    }

    /// A template answers file for `jemput answers-template`: every criterion with an
    /// example answer of the right shape.
    pub fn answers_template(&self) -> serde_json::Value {
        let mut answers = serde_json::Map::new();
        for c in &self.criteria {
            let v = match &c.rule {
                Rule::PerPersonBelow { .. } => serde_json::json!(24),
                Rule::OneOf { .. } => serde_json::json!(c.options.first()),
                Rule::AtMost { limit } => serde_json::json!(limit),
                Rule::Below { limit } => serde_json::json!(limit / 2.0),
                Rule::YesNo { meets_when } => serde_json::json!(meets_when),
                Rule::IncomeSource { labourers, .. } => serde_json::json!({
                    "occupation": labourers.first(), "land_m2": 0, "income_rp": 450000
                }),
            };
            answers.insert(c.id.clone(), v);
        }
        serde_json::json!({
            "result": "found",
            "answers": answers,
            "notes": "",
            "documents": {"kk": true, "ktp": true}
        })
    }
}

impl Criterion {
    pub fn shape(&self) -> AnswerShape {
        let kind = match self.rule {
            Rule::PerPersonBelow { .. } | Rule::AtMost { .. } | Rule::Below { .. } => "number",
            Rule::OneOf { .. } => "option",
            Rule::YesNo { .. } => "yes_no",
            Rule::IncomeSource { .. } => "income_source",
        };
        AnswerShape {
            kind,
            unit: self.unit.clone(),
            options: self.options.clone(),
            occupations: self.occupations.clone(),
        }
    }

    pub fn parse_answer(&self, raw: &serde_json::Value) -> Result<Answer, IndicatorError> {
        let bad = |reason: &str| IndicatorError::InvalidAnswer {
            criterion: self.id.clone(),
            reason: reason.to_string(),
        };
        let number = |v: &serde_json::Value, what: &str| -> Result<f64, IndicatorError> {
            let n = v
                .as_f64()
                .ok_or_else(|| bad(&format!("{what} must be a number")))?;
            if !n.is_finite() || n < 0.0 {
                return Err(bad(&format!("{what} must be zero or more")));
            }
            Ok(n)
        };
        if raw.as_str() == Some(UNKNOWN) {
            return Ok(Answer::Text(UNKNOWN.to_string()));
        }
        match &self.rule {
            Rule::PerPersonBelow { .. } | Rule::AtMost { .. } | Rule::Below { .. } => {
                Ok(Answer::Number(number(raw, "answer")?))
            }
            Rule::OneOf { .. } => {
                let s = raw
                    .as_str()
                    .ok_or_else(|| bad("must be one of the options"))?;
                let opt = self
                    .options
                    .iter()
                    .find(|o| o.eq_ignore_ascii_case(s.trim()))
                    .ok_or_else(|| {
                        bad(&format!("`{s}` is not one of: {}", self.options.join(", ")))
                    })?;
                Ok(Answer::Text(opt.clone()))
            }
            Rule::YesNo { .. } => raw
                .as_bool()
                .map(Answer::Bool)
                .ok_or_else(|| bad("must be true or false")),
            Rule::IncomeSource { .. } => {
                let obj = raw
                    .as_object()
                    .ok_or_else(|| bad("must be {occupation, land_m2, income_rp}"))?;
                let occ = obj
                    .get("occupation")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| bad("occupation missing"))?;
                let occupation = self
                    .occupations
                    .iter()
                    .find(|o| o.eq_ignore_ascii_case(occ.trim()))
                    .ok_or_else(|| bad(&format!("occupation `{occ}` is not known")))?
                    .clone();
                let zero = serde_json::json!(0);
                Ok(Answer::Income {
                    occupation,
                    land_m2: number(obj.get("land_m2").unwrap_or(&zero), "land_m2")?,
                    income_rp: number(
                        obj.get("income_rp")
                            .ok_or_else(|| bad("income_rp missing"))?,
                        "income_rp",
                    )?,
                })
            }
        }
    }

    /// An answer of the wrong shape (possible after a set changes) never meets.
    pub fn meets(&self, answer: &Answer, household_size: usize) -> bool {
        match (&self.rule, answer) {
            (Rule::PerPersonBelow { limit }, Answer::Number(area)) => {
                household_size > 0 && (area / household_size as f64) < *limit
            }
            (Rule::OneOf { meets }, Answer::Text(s)) => meets.iter().any(|m| m == s),
            (Rule::AtMost { limit }, Answer::Number(n)) => n <= limit,
            (Rule::Below { limit }, Answer::Number(n)) => n < limit,
            (Rule::YesNo { meets_when }, Answer::Bool(b)) => b == meets_when,
            (
                Rule::IncomeSource {
                    farmer,
                    max_land_m2,
                    labourers,
                    max_income_rp,
                },
                Answer::Income {
                    occupation,
                    land_m2,
                    income_rp,
                },
            ) => {
                (occupation == farmer && land_m2 <= max_land_m2)
                    || labourers.contains(occupation)
                    || income_rp < max_income_rp
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn set() -> IndicatorSet {
        IndicatorSet::bps14()
    }

    fn meets(id: &str, raw: serde_json::Value, size: usize) -> bool {
        let s = set();
        let c = s.criterion(id).expect("criterion exists");
        c.meets(&c.parse_answer(&raw).expect("valid answer"), size)
    }

    #[test]
    fn embedded_set_has_14_criteria_numbered_in_order() {
        let s = set();
        assert_eq!(s.criteria.len(), 14);
        assert!(s
            .criteria
            .iter()
            .enumerate()
            .all(|(i, c)| c.n as usize == i + 1));
        assert_eq!(s.poor_if_met_at_least, 9);
    }

    #[test]
    fn floor_area_boundary_is_strictly_below_8_per_person() {
        assert!(
            !meets("floor_area_per_person", json!(32), 4),
            "exactly 8 m²/person"
        );
        assert!(meets("floor_area_per_person", json!(31.9), 4));
        assert!(
            !meets("floor_area_per_person", json!(10), 0),
            "no members: no rate"
        );
    }

    #[test]
    fn material_options_meet_only_the_listed_ones() {
        assert!(meets("floor_material", json!("tanah"), 1));
        assert!(
            meets("floor_material", json!("Bambu"), 1),
            "case-insensitive"
        );
        assert!(!meets("floor_material", json!("semen/bata merah"), 1));
        assert!(meets("wall_material", json!("tembok tanpa plester"), 1));
        assert!(!meets("wall_material", json!("tembok diplester"), 1));
        assert!(meets("toilet", json!("bersama"), 1));
        assert!(!meets("toilet", json!("sendiri"), 1));
        assert!(meets("lighting", json!("bukan listrik"), 1));
        assert!(!meets("lighting", json!("listrik non-PLN"), 1));
        assert!(meets("drinking_water", json!("air hujan"), 1));
        assert!(!meets("drinking_water", json!("leding"), 1));
        assert!(meets("cooking_fuel", json!("kayu bakar"), 1));
        assert!(!meets("cooking_fuel", json!("gas/LPG"), 1));
        assert!(meets("head_education", json!("SD"), 1));
        assert!(!meets("head_education", json!("SMP"), 1));
    }

    #[test]
    fn counted_criteria_boundaries() {
        assert!(meets("protein_per_week", json!(1), 1));
        assert!(!meets("protein_per_week", json!(2), 1));
        assert!(meets("clothes_per_year", json!(1), 1));
        assert!(!meets("clothes_per_year", json!(2), 1));
        assert!(meets("meals_per_day", json!(2), 1));
        assert!(!meets("meals_per_day", json!(3), 1));
        assert!(meets("clinic_cost", json!(false), 1), "cannot pay");
        assert!(!meets("clinic_cost", json!(true), 1));
        assert!(meets("savings", json!(499_999), 1));
        assert!(!meets("savings", json!(500_000), 1));
    }

    #[test]
    fn income_source_boundaries() {
        let inc = |occ: &str, land: u32, income: u32| {
            meets(
                "head_income_source",
                json!({"occupation": occ, "land_m2": land, "income_rp": income}),
                1,
            )
        };
        assert!(inc("lainnya", 0, 599_999), "income just below the line");
        assert!(!inc("lainnya", 0, 600_000), "income exactly at the line");
        assert!(inc("petani", 500, 900_000), "farmer with exactly 500 m²");
        assert!(!inc("petani", 501, 900_000));
        assert!(
            inc("buruh bangunan", 0, 2_000_000),
            "labourer whatever the income"
        );
    }

    #[test]
    fn bad_answers_are_errors_naming_the_criterion() {
        let s = set();
        let bad = |id: &str, v: serde_json::Value| {
            let mut m = BTreeMap::new();
            m.insert(id.to_string(), v);
            s.validate(&m).expect_err("must be rejected").to_string()
        };
        assert!(bad("floor_material", json!("emas")).contains("floor_material"));
        assert!(bad("meals_per_day", json!(-1)).contains("zero or more"));
        assert!(bad("clinic_cost", json!("ya")).contains("true or false"));
        assert!(bad("nonsense", json!(1)).contains("unknown criterion"));
    }

    #[test]
    fn changing_a_parameter_rescores_the_same_answers() {
        let s = set();
        let mut answers = BTreeMap::new();
        answers.insert("savings".to_string(), Answer::Number(700_000.0));
        assert_eq!(s.score(&answers, 1).score, 0);
        let raised = BPS14_TOML.replace("limit = 500000.0", "limit = 1000000.0");
        let s2 = IndicatorSet::from_toml(&raised).expect("valid");
        assert_eq!(s2.score(&answers, 1).met, vec!["savings".to_string()]);
    }

    #[test]
    fn template_answers_validate_and_score_poor_at_nine() {
        let s = set();
        let t = s.answers_template();
        let raw: BTreeMap<String, serde_json::Value> =
            serde_json::from_value(t["answers"].clone()).expect("map");
        let answers = s.validate(&raw).expect("template is valid");
        let sc = s.score(&answers, 4);
        assert!(sc.unanswered.is_empty());
        assert_eq!(sc.poor, sc.score >= 9);
    }
}
