//! Spec: keyword arguments become the canonical JSON spec, key by key.

use super::*;

/// A Python value as JSON. Durations may also be `datetime.timedelta`
/// (turned into whole microseconds, `"90000000us"`), NumPy's `timedelta64`
/// or pandas' `Timedelta` (whole nanoseconds).
pub(crate) fn to_json(key: &str, obj: &Bound<'_, PyAny>) -> PyResult<Value> {
    if obj.is_none() {
        return Ok(Value::Null);
    }
    if let Ok(b) = obj.cast::<PyBool>() {
        return Ok(Value::Bool(b.is_true()));
    }
    if let Ok(s) = obj.cast::<PyString>() {
        return Ok(Value::String(s.to_str()?.to_string()));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return Ok(if let Ok(v) = i.extract::<i64>() {
            Value::from(v)
        } else if let Ok(v) = i.extract::<u64>() {
            Value::from(v)
        } else {
            // Beyond 64 bits: the core sees the digits and says the duration is too large.
            Value::String(i.str()?.to_str()?.to_string())
        });
    }
    if let Ok(f) = obj.cast::<PyFloat>() {
        let v = f.value();
        return Ok(Number::from_f64(v).map_or_else(|| Value::String(v.to_string()), Value::Number));
    }
    if let Ok(list) = obj.cast::<PyList>() {
        return list.iter().map(|item| to_json(key, &item)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    if let Ok(tuple) = obj.cast::<PyTuple>() {
        return tuple.iter().map(|item| to_json(key, &item)).collect::<PyResult<Vec<_>>>().map(Value::Array);
    }
    if let Ok(dict) = obj.cast::<PyDict>() {
        let mut map = Map::new();
        for (k, v) in dict.iter() {
            let Ok(k) = k.cast::<PyString>() else {
                return Err(PyTypeError::new_err(format!("'{key}' keys must be strings, got {}", k.get_type().name()?)));
            };
            map.insert(k.to_str()?.to_string(), to_json(key, &v)?);
        }
        return Ok(Value::Object(map));
    }
    // NumPy's timedelta64 and pandas' Timedelta (a timedelta that also holds
    // nanoseconds): whole nanoseconds, NaT refused.
    let type_name = obj.get_type().name()?;
    let timedelta64 = if type_name == "timedelta64" {
        Some(obj.clone())
    } else if type_name == "Timedelta" {
        obj.getattr(pyo3::intern!(obj.py(), "asm8")).ok()
    } else {
        None
    };
    if let Some(value) = timedelta64 {
        // A month or a year has no fixed length: NumPy would make them
        // 30.436875 and 365.2425 days, where "1M" and "1 month" are refused.
        let dtype: String = value.getattr(pyo3::intern!(obj.py(), "dtype"))?.str()?.extract()?;
        if dtype.ends_with("[M]") || dtype.ends_with("[Y]") {
            let shown: String = obj.repr()?.extract()?;
            return Err(error::new_err(
                obj.py(),
                "invalid_duration",
                format!("invalid duration {shown}: calendar months, quarters and years are not supported yet ('{key}')"),
            ));
        }
        let nanos: i64 = value.call_method1("astype", ("timedelta64[ns]",))?.call_method1("astype", ("int64",))?.extract()?;
        if nanos == i64::MIN {
            return Err(PyValueError::new_err(format!("'{key}' cannot be NaT")));
        }
        return Ok(Value::String(format!("{nanos}ns")));
    }
    if let Ok(delta) = obj.cast::<PyDelta>() {
        let micros = i128::from(delta.get_days()) * 86_400_000_000
            + i128::from(delta.get_seconds()) * 1_000_000
            + i128::from(delta.get_microseconds());
        return Ok(Value::String(format!("{micros}us")));
    }
    // NumPy scalars and other integer-likes (__index__).
    if let Ok(v) = obj.extract::<i64>() {
        return Ok(Value::from(v));
    }
    Err(PyTypeError::new_err(format!(
        "'{key}' cannot be a {}: use a string, an integer, a list or a dict (durations may also be datetime.timedelta)",
        obj.get_type().name()?
    )))
}

/// Builds the JSON spec from the named keywords (in the documented order,
/// `None` meaning "not given") and any extra keywords (passed on verbatim so
/// the core names them in its error).
pub(crate) fn spec_json(named: &[(&str, Option<&Bound<'_, PyAny>>)], extra: Option<&Bound<'_, PyDict>>) -> PyResult<Value> {
    let mut map = Map::new();
    for (key, value) in named {
        if let Some(v) = value {
            if !v.is_none() {
                map.insert((*key).to_string(), to_json(key, v)?);
            }
        }
    }
    if let Some(extra) = extra {
        for (k, v) in extra.iter() {
            let k: String = k.extract()?;
            if v.is_none() {
                // The named keywords take None as "not given"; an option
                // given as None is more likely a mistake than a default.
                return Err(error::new_err(v.py(), "invalid_spec", format!("invalid spec: '{k}' is None; leave it out for its default")));
            }
            let json = to_json(&k, &v)?;
            map.insert(k, json);
        }
    }
    Ok(Value::Object(map))
}

pub(crate) fn spec_from_dict(spec: &Bound<'_, PyAny>) -> PyResult<Value> {
    to_json("spec", spec)
}
