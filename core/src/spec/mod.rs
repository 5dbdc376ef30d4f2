//! Specs: what a windowed aggregation or a rolling aggregation computes.
//!
//! The canonical form is a JSON object (see `docs/semantics.md`); every
//! binding passes the same keys. Rust callers may also build specs directly.

pub mod duration;
pub mod expr;
pub mod types;

/// Schema metadata key holding how many rows `null_time = "drop"` left out.
pub const DROPPED_NULL_TIMES_KEY: &str = "sash.dropped_null_times";

use crate::error::{Result, SashError};
use crate::spec::duration::Duration;
use crate::spec::expr::AggExpr;
use serde_json::{Map, Value};

/// Which side of a window interval is closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closed {
    /// `[start, end)`
    Left,
    /// `(start, end]`
    Right,
    /// `[start, end]` (rolling only)
    Both,
    /// `(start, end)` (rolling only)
    None,
}

impl Closed {
    fn parse(text: &str) -> Result<Closed> {
        match text {
            "left" => Ok(Closed::Left),
            "right" => Ok(Closed::Right),
            "both" => Ok(Closed::Both),
            "none" => Ok(Closed::None),
            other => Err(SashError::spec(format!("closed must be \"left\", \"right\", \"both\" or \"none\", got \"{other}\""))),
        }
    }
}

/// What to do with rows whose time is null.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NullTime {
    /// Fail, saying how many rows have a null time.
    #[default]
    Error,
    /// Leave those rows out and report how many in the output schema's
    /// metadata under [`crate::spec::DROPPED_NULL_TIMES_KEY`].
    Drop,
}

/// The shape of the windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// `[origin + k·every, origin + (k+1)·every)`
    Tumbling { every: Duration },
    /// `[origin + k·every, origin + k·every + period)`
    Hopping { every: Duration, period: Duration },
    /// Per key, a new session starts when a row's time is ≥ previous time + gap.
    Session { gap: Duration },
}

/// A windowed aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSpec {
    pub time: String,
    pub kind: WindowKind,
    /// Shifts the window grid from the epoch (or 0 for integer time).
    pub offset: Option<Duration>,
    pub by: Vec<String>,
    pub aggs: Vec<AggExpr>,
    pub closed: Closed,
    pub null_time: NullTime,
}

/// The window of a rolling aggregation, ending at each row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollingPeriod {
    /// Rows of the same key whose time is within this duration of the row's time.
    Time(Duration),
    /// The last N rows of the same key (`"100i"`), in time order.
    Rows(i64),
}

/// A rolling aggregation: one output row per input row.
#[derive(Debug, Clone, PartialEq)]
pub struct RollingSpec {
    pub time: String,
    pub period: RollingPeriod,
    pub by: Vec<String>,
    pub aggs: Vec<AggExpr>,
    pub closed: Closed,
    pub null_time: NullTime,
}

/// Parses a JSON spec, refusing a key given twice in one object (at any
/// depth): serde_json keeps the last silently, which would let a typo'd
/// repeat override what the caller meant, where unknown keys are errors.
pub(crate) fn parse_json(text: &str) -> Result<Value> {
    use serde::de::DeserializeSeed;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let value = StrictJson.deserialize(&mut deserializer).and_then(|v| deserializer.end().map(|()| v));
    value.map_err(|e| SashError::spec(format!("spec is not valid JSON: {e}")))
}

/// A JSON value whose objects have no repeated key.
struct StrictJson;

impl<'de> serde::de::DeserializeSeed<'de> for StrictJson {
    type Value = Value;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> std::result::Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for StrictJson {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> std::result::Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> std::result::Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> std::result::Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> std::result::Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> std::result::Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> std::result::Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictJson)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut entries: A) -> std::result::Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = entries.next_key::<String>()? {
            if map.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("the key '{key}' appears twice in one object")));
            }
            let value = entries.next_value_seed(StrictJson)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

fn object<'a>(value: &'a Value, what: &str) -> Result<&'a Map<String, Value>> {
    value.as_object().ok_or_else(|| SashError::spec(format!("a {what} spec must be a JSON object")))
}

/// Every key of `map` is one of `allowed`; `what` names the object in the
/// message ("a window spec", "a schema field").
pub(crate) fn check_keys(map: &Map<String, Value>, allowed: &[&str], what: &str) -> Result<()> {
    for key in map.keys() {
        if !allowed.contains(&key.as_str()) {
            return Err(SashError::spec(format!("unknown key '{key}' in {what}; allowed keys: {}", allowed.join(", "))));
        }
    }
    Ok(())
}

/// A string value, or None when the key is missing or null.
pub(crate) fn string_key(map: &Map<String, Value>, key: &str) -> Result<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(SashError::spec(format!("'{key}' must be a string, got {other}"))),
    }
}

fn duration_key(map: &Map<String, Value>, key: &str) -> Result<Option<Duration>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => Duration::from_json(key, v).map(Some),
    }
}

fn parse_by(map: &Map<String, Value>) -> Result<Vec<String>> {
    match map.get("by") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::String(s)) => Ok(vec![s.clone()]),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| SashError::spec(format!("'by' entries must be column names, got {v}"))))
            .collect(),
        Some(other) => Err(SashError::spec(format!("'by' must be a column name or a list of them, got {other}"))),
    }
}

/// Parses `aggs`: a list of expressions or an object alias → expression.
pub fn parse_aggs(value: Option<&Value>) -> Result<Vec<AggExpr>> {
    let aggs = match value {
        None | Some(Value::Null) => return Err(SashError::spec("'aggs' is required: a list of expressions such as \"count() as n\"")),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => AggExpr::parse(s),
                other => Err(SashError::spec(format!("'aggs' entries must be strings, got {other}"))),
            })
            .collect::<Result<Vec<_>>>()?,
        Some(Value::Object(map)) => map
            .iter()
            .map(|(alias, v)| match v {
                Value::String(s) => {
                    let (mut e, named) = AggExpr::parse_naming(s)?;
                    if named {
                        return Err(SashError::spec(format!(
                            "'aggs' entry '{alias}' names its output twice ('{s}'): in a mapping the key is the name, drop the 'as'"
                        )));
                    }
                    e.alias = alias.clone();
                    Ok(e)
                }
                other => Err(SashError::spec(format!("'aggs' values must be expression strings, got {other}"))),
            })
            .collect::<Result<Vec<_>>>()?,
        Some(other) => Err(SashError::spec(format!("'aggs' must be a list of expressions or an object alias → expression, got {other}")))?,
    };
    if aggs.is_empty() {
        return Err(SashError::spec("'aggs' is empty; give at least one aggregation"));
    }
    Ok(aggs)
}

fn parse_null_time(map: &Map<String, Value>) -> Result<NullTime> {
    match string_key(map, "null_time")?.as_deref() {
        None | Some("error") => Ok(NullTime::Error),
        Some("drop") => Ok(NullTime::Drop),
        Some(other) => Err(SashError::spec(format!("null_time must be \"error\" or \"drop\", got \"{other}\""))),
    }
}

impl WindowSpec {
    /// Parses the canonical JSON form.
    pub fn from_json(text: &str) -> Result<WindowSpec> {
        let value = parse_json(text)?;
        WindowSpec::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<WindowSpec> {
        let map = object(value, "window")?;
        check_keys(map, &["time", "every", "period", "offset", "session_gap", "by", "aggs", "closed", "null_time"], "a window spec")?;
        let time = string_key(map, "time")?.ok_or_else(|| SashError::spec("'time' is required: the name of the time column"))?;
        let every = duration_key(map, "every")?;
        let period = duration_key(map, "period")?;
        let gap = duration_key(map, "session_gap")?;
        let kind = match (every, period, gap) {
            (None, None, Some(gap)) => WindowKind::Session { gap },
            (_, _, Some(_)) => return Err(SashError::spec("session_gap cannot be combined with every or period")),
            (Some(every), None, None) => WindowKind::Tumbling { every },
            (Some(every), Some(period), None) if period == every => WindowKind::Tumbling { every },
            (Some(every), Some(period), None) => WindowKind::Hopping { every, period },
            (None, Some(_), None) => return Err(SashError::spec("'period' needs 'every' (hopping windows start every 'every')")),
            (None, None, None) => {
                return Err(SashError::spec("give 'every' (tumbling), 'every' and 'period' (hopping) or 'session_gap' (session)"))
            }
        };
        let closed = match string_key(map, "closed")? {
            None => Closed::Left,
            Some(text) => Closed::parse(&text)?,
        };
        if matches!(closed, Closed::Both | Closed::None) {
            return Err(SashError::spec("windows are closed \"left\" or \"right\"; \"both\" and \"none\" are for rolling"));
        }
        if matches!(kind, WindowKind::Session { .. }) && closed != Closed::Left {
            return Err(SashError::spec("'closed' applies to tumbling and hopping windows, not to sessions"));
        }
        let spec = WindowSpec {
            time,
            kind,
            offset: duration_key(map, "offset")?,
            by: parse_by(map)?,
            aggs: parse_aggs(map.get("aggs"))?,
            closed,
            null_time: parse_null_time(map)?,
        };
        spec.validate()?;
        Ok(spec)
    }

    /// Checks what can be checked without the data.
    pub fn validate(&self) -> Result<()> {
        let positive = |name: &str, d: &Duration| -> Result<()> {
            let ok = match d {
                Duration::Time { nanos } => *nanos > 0,
                Duration::Count(n) => *n > 0,
            };
            if ok {
                Ok(())
            } else {
                Err(SashError::spec(format!("'{name}' must be positive, got {d}")))
            }
        };
        match &self.kind {
            WindowKind::Tumbling { every } => positive("every", every)?,
            WindowKind::Hopping { every, period } => {
                positive("every", every)?;
                positive("period", period)?;
            }
            WindowKind::Session { gap } => {
                positive("session_gap", gap)?;
                if self.offset.is_some() {
                    return Err(SashError::spec("'offset' applies to tumbling and hopping windows, not to sessions"));
                }
            }
        }
        check_aliases(&self.aggs, &self.by, &["window_start", "window_end"])
    }
}

fn check_aliases(aggs: &[AggExpr], by: &[String], reserved: &[&str]) -> Result<()> {
    let mut seen: Vec<&str> = by.iter().map(String::as_str).collect();
    seen.extend_from_slice(reserved);
    for (i, key) in by.iter().enumerate() {
        if by[..i].contains(key) {
            return Err(SashError::spec(format!("key column '{key}' is listed twice in 'by'")));
        }
        if reserved.contains(&key.as_str()) {
            return Err(SashError::spec(format!(
                "key column '{key}' has the name of an output column the windows add ({}); rename it in the input",
                reserved.join(", ")
            )));
        }
    }
    for agg in aggs {
        if seen.contains(&agg.alias.as_str()) {
            return Err(SashError::spec(format!(
                "output column '{}' appears twice; give the aggregation another name with 'as'",
                agg.alias
            )));
        }
        seen.push(&agg.alias);
    }
    Ok(())
}

impl RollingSpec {
    pub fn from_json(text: &str) -> Result<RollingSpec> {
        let value = parse_json(text)?;
        RollingSpec::from_value(&value)
    }

    pub fn from_value(value: &Value) -> Result<RollingSpec> {
        let map = object(value, "rolling")?;
        check_keys(map, &["time", "period", "by", "aggs", "closed", "null_time"], "a rolling spec")?;
        let time = string_key(map, "time")?.ok_or_else(|| SashError::spec("'time' is required: the name of the time column"))?;
        let period = match map.get("period") {
            None | Some(Value::Null) => return Err(SashError::spec("'period' is required: a duration (\"5m\") or a row count (\"100i\")")),
            // A bare "100i" is a row count; a plain number is a duration in an integer time column's unit.
            Some(Value::String(s)) if s.trim().ends_with('i') => match Duration::parse(s)? {
                Duration::Count(n) => RollingPeriod::Rows(n),
                Duration::Time { .. } => unreachable!("durations never end in 'i'"),
            },
            Some(v) => RollingPeriod::Time(Duration::from_json("period", v)?),
        };
        let closed = match string_key(map, "closed")? {
            None => Closed::Right,
            Some(text) => Closed::parse(&text)?,
        };
        let spec =
            RollingSpec { time, period, by: parse_by(map)?, aggs: parse_aggs(map.get("aggs"))?, closed, null_time: parse_null_time(map)? };
        spec.validate()?;
        Ok(spec)
    }

    pub fn validate(&self) -> Result<()> {
        let ok = match self.period {
            RollingPeriod::Rows(n) => n > 0,
            RollingPeriod::Time(Duration::Time { nanos }) => nanos > 0,
            RollingPeriod::Time(Duration::Count(n)) => n > 0,
        };
        if !ok {
            return Err(SashError::spec("'period' must be positive"));
        }
        check_aliases(&self.aggs, &[], &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_window_kinds() {
        let s = WindowSpec::from_json(r#"{"time":"ts","every":"1m","aggs":["count()"]}"#).unwrap();
        assert!(matches!(s.kind, WindowKind::Tumbling { .. }));
        let s = WindowSpec::from_json(r#"{"time":"ts","every":"1m","period":"5m","by":"k","aggs":{"n":"count()"}}"#).unwrap();
        assert!(matches!(s.kind, WindowKind::Hopping { .. }));
        assert_eq!(s.by, vec!["k"]);
        assert_eq!(s.aggs[0].alias, "n");
        let s = WindowSpec::from_json(r#"{"time":"ts","session_gap":"30s","aggs":["sum(v)"]}"#).unwrap();
        assert!(matches!(s.kind, WindowKind::Session { .. }));
    }

    #[test]
    fn rejects_invalid_specs() {
        for bad in [
            r#"{"every":"1m","aggs":["count()"]}"#,
            r#"{"time":"ts","aggs":["count()"]}"#,
            r#"{"time":"ts","every":"0s","aggs":["count()"]}"#,
            r#"{"time":"ts","every":"1m","aggs":[]}"#,
            r#"{"time":"ts","every":"1m","aggs":["count()"],"colsed":"left"}"#,
            r#"{"time":"ts","every":"1m","aggs":["count()", "count()"]}"#,
            r#"{"time":"ts","every":"1m","session_gap":"1s","aggs":["count()"]}"#,
            r#"{"time":"ts","every":"1m","aggs":["count()"],"closed":"both"}"#,
            r#"[1]"#,
            r#"{"#,
        ] {
            assert!(matches!(WindowSpec::from_json(bad), Err(SashError::InvalidSpec(_))), "{bad}");
        }
        assert!(matches!(
            WindowSpec::from_json(r#"{"time":"ts","every":"1x","aggs":["count()"]}"#),
            Err(SashError::InvalidDuration { .. })
        ));
    }

    #[test]
    fn parses_rolling() {
        let s = RollingSpec::from_json(r#"{"time":"ts","period":"100i","aggs":["mean(v)"]}"#).unwrap();
        assert_eq!(s.period, RollingPeriod::Rows(100));
        assert_eq!(s.closed, Closed::Right);
        let s = RollingSpec::from_json(r#"{"time":"ts","period":"5m","aggs":["mean(v)"],"closed":"both"}"#).unwrap();
        assert!(matches!(s.period, RollingPeriod::Time(Duration::Time { .. })));
    }
}
