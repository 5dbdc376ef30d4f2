//! Output arrays in the shapes the JVM side can take.
//!
//! Arrow Java imports only arrays whose offset is 0, so a sliced column (a
//! rolling output passes the caller's sliced input columns through) is
//! compacted first, and a dictionary column is decoded (a VectorSchemaRoot
//! cannot carry its dictionary). Spark takes even less: no views, no dictionaries, no
//! unsigned integers, timestamps in microseconds only. With `spark_types`
//! those are cast to what Spark's own readers produce for them (its Parquet
//! reader's mapping for unsigned integers: UInt8 → Int16, UInt16 → Int32,
//! UInt32 → Int64, UInt64 → Decimal(20, 0)).

use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_cast::cast;
use arrow_schema::{ArrowError, DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use std::sync::Arc;

/// The type Spark reads for `dt`, recursively.
pub fn spark_type(dt: &DataType) -> DataType {
    match dt {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::Dictionary(_, values) => spark_type(values),
        DataType::UInt8 => DataType::Int16,
        DataType::UInt16 => DataType::Int32,
        DataType::UInt32 => DataType::Int64,
        DataType::UInt64 => DataType::Decimal128(20, 0),
        DataType::Float16 => DataType::Float32,
        DataType::Date64 => DataType::Date32,
        DataType::Timestamp(_, tz) => DataType::Timestamp(TimeUnit::Microsecond, tz.clone()),
        DataType::Struct(fields) => DataType::Struct(spark_fields(fields)),
        DataType::List(f) | DataType::ListView(f) => DataType::List(Arc::new(spark_field(f))),
        DataType::LargeList(f) | DataType::LargeListView(f) => DataType::LargeList(Arc::new(spark_field(f))),
        // Spark reads a map's entries by the names "key" and "value".
        DataType::Map(entries, sorted) => {
            let renamed = match entries.data_type() {
                DataType::Struct(kv) if kv.len() == 2 => {
                    let key = spark_field(&kv[0]).with_name("key");
                    let value = spark_field(&kv[1]).with_name("value");
                    entries.as_ref().clone().with_data_type(DataType::Struct(Fields::from(vec![key, value])))
                }
                _ => spark_field(entries),
            };
            DataType::Map(Arc::new(renamed), *sorted)
        }
        other => other.clone(),
    }
}

fn spark_field(f: &Field) -> Field {
    f.clone().with_data_type(spark_type(f.data_type()))
}

fn spark_fields(fields: &Fields) -> Fields {
    fields.iter().map(|f| spark_field(f)).collect()
}

/// The batch with every column at offset 0 and, with `spark_types`, of the
/// type [`spark_type`] gives. Columns already fine are passed through
/// untouched (no copy).
pub fn for_jvm(batch: RecordBatch, spark_types: bool) -> Result<RecordBatch, ArrowError> {
    let schema = batch.schema();
    let mut changed = false;
    let mut fields = Vec::with_capacity(schema.fields().len());
    let mut columns = Vec::with_capacity(batch.num_columns());
    for (field, column) in schema.fields().iter().zip(batch.columns()) {
        let target = if spark_types { spark_type(field.data_type()) } else { java_type(field.data_type()) };
        let mut column: ArrayRef = column.clone();
        if &target != column.data_type() {
            column = if column.data_type().equals_datatype(&target) {
                // Only nested field names differ: the same buffers under the new type.
                arrow_array::make_array(retype(column.to_data(), &target)?)
            } else {
                cast(&column, &target)?
            };
            changed = true;
        }
        if has_offset(column.as_ref()) {
            column = arrow_select::concat::concat(&[column.as_ref()])?;
            changed = true;
        }
        fields.push(field.as_ref().clone().with_data_type(target));
        columns.push(column);
    }
    if !changed {
        return Ok(batch);
    }
    let schema: SchemaRef = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    RecordBatch::try_new_with_options(schema, columns, &arrow_array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())))
}

/// The type Arrow Java gets for a column of type `dt`: dictionaries decoded.
pub fn java_type(dt: &DataType) -> DataType {
    match dt {
        DataType::Dictionary(_, values) => java_type(values),
        other => other.clone(),
    }
}

/// The same data under `target`, a type that differs only in nested field
/// names: the buffers are kept, the type is replaced at every level.
fn retype(data: arrow_data::ArrayData, target: &DataType) -> Result<arrow_data::ArrayData, ArrowError> {
    let child_types: Vec<DataType> = match target {
        DataType::Struct(fields) => fields.iter().map(|f| f.data_type().clone()).collect(),
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) | DataType::Map(f, _) => vec![f.data_type().clone()],
        _ => Vec::new(),
    };
    let children = if child_types.len() == data.child_data().len() {
        data.child_data().iter().zip(&child_types).map(|(child, t)| retype(child.clone(), t)).collect::<Result<Vec<_>, _>>()?
    } else {
        data.child_data().to_vec()
    };
    data.into_builder().data_type(target.clone()).child_data(children).build()
}

/// The schema [`for_jvm`] gives its batches.
pub fn schema_for_jvm(schema: &SchemaRef, spark_types: bool) -> SchemaRef {
    let convert = |f: &Field| if spark_types { spark_field(f) } else { f.clone().with_data_type(java_type(f.data_type())) };
    let fields: Vec<Field> = schema.fields().iter().map(|f| convert(f)).collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// Whether the array or any child (struct fields, list values) has a
/// non-zero offset, which Arrow Java's importer refuses.
fn has_offset(array: &dyn Array) -> bool {
    let data = array.to_data();
    fn walk(d: &arrow_data::ArrayData) -> bool {
        d.offset() != 0 || d.child_data().iter().any(walk)
    }
    walk(&data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::types::Int32Type;
    use arrow_array::{DictionaryArray, Int64Array, StringViewArray, UInt16Array, UInt64Array};

    #[test]
    fn spark_types_cast_what_spark_cannot_read_and_keep_values() {
        let dict: DictionaryArray<Int32Type> = vec!["a", "b", "a"].into_iter().collect();
        let schema = Arc::new(Schema::new(vec![
            Field::new("u16", DataType::UInt16, true),
            Field::new("u64", DataType::UInt64, true),
            Field::new("view", DataType::Utf8View, true),
            Field::new("dict", dict.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(UInt16Array::from(vec![Some(404), None, Some(65535)])),
                Arc::new(UInt64Array::from(vec![Some(u64::MAX), Some(0), None])),
                Arc::new(StringViewArray::from(vec![Some("GET"), None, Some("a string longer than twelve bytes")])),
                Arc::new(dict),
            ],
        )
        .unwrap();
        let out = for_jvm(batch, true).unwrap();
        let types: Vec<DataType> = out.schema().fields().iter().map(|f| f.data_type().clone()).collect();
        assert_eq!(types, vec![DataType::Int32, DataType::Decimal128(20, 0), DataType::Utf8, DataType::Utf8]);
        assert_eq!(
            &schema_for_jvm(&Arc::new(Schema::new(vec![Field::new("u16", DataType::UInt16, true)])), true).fields()[0].data_type(),
            &&DataType::Int32
        );
        let u64s = arrow_cast::display::array_value_to_string(out.column(1), 0).unwrap();
        assert_eq!(u64s, u64::MAX.to_string());
        let view = arrow_cast::display::array_value_to_string(out.column(2), 2).unwrap();
        assert_eq!(view, "a string longer than twelve bytes");
        assert!(out.column(2).is_null(1));
    }

    #[test]
    fn spark_maps_have_key_and_value_entries_over_the_same_buffers() {
        use arrow_array::builder::{MapBuilder, MapFieldNames, StringBuilder};
        let names = MapFieldNames { entry: "entries".into(), key: "keys".into(), value: "values".into() };
        let mut builder = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
        builder.keys().append_value("msg");
        builder.values().append_value("hello");
        builder.append(true).unwrap();
        let map = builder.finish();
        let keys_ptr = map.keys().to_data().buffers()[1].as_ptr();
        let schema = Arc::new(Schema::new(vec![Field::new("fields", map.data_type().clone(), true)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(map)]).unwrap();
        let out = for_jvm(batch, true).unwrap();
        let DataType::Map(entries, _) = out.schema().field(0).data_type().clone() else { panic!("not a map") };
        let DataType::Struct(kv) = entries.data_type() else { panic!("entries are not a struct") };
        assert_eq!((kv[0].name().as_str(), kv[1].name().as_str()), ("key", "value"));
        let out_map = out.column(0).as_any().downcast_ref::<arrow_array::MapArray>().unwrap();
        assert_eq!(out_map.keys().to_data().buffers()[1].as_ptr(), keys_ptr, "renamed, not copied");
    }

    #[test]
    fn sliced_columns_are_compacted_to_offset_zero_and_untouched_ones_are_not_copied() {
        let full = Int64Array::from(vec![1, 2, 3, 4]);
        let sliced = full.slice(1, 2);
        let whole = Int64Array::from(vec![7, 8]);
        let whole_ptr = whole.values().as_ptr();
        let schema = Arc::new(Schema::new(vec![Field::new("a", DataType::Int64, false), Field::new("b", DataType::Int64, false)]));
        let batch = RecordBatch::try_new(schema, vec![Arc::new(sliced), Arc::new(whole)]).unwrap();
        let out = for_jvm(batch, false).unwrap();
        assert_eq!(out.column(0).to_data().offset(), 0);
        let a = out.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(a.values().as_ref(), &[2, 3]);
        let b = out.column(1).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(b.values().as_ptr(), whole_ptr);
    }
}
