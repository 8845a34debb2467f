//! The PhantomDB methods, on a Pool (each call one-shot: C `pp_do`) and
//! on a PooledConnection (every call on the held seat).
//!
//! Requests are built as the C library's typed helpers build them
//! (libclient/helpers.c): the same routes and bodies, names escaped into
//! path segments by RFC 3986 (every byte but ALPHA DIGIT - . _ ~ becomes
//! %XX, and a name that is exactly "." or ".." has its dots escaped), and
//! `Accept: application/json` on every request.  The binding builds them
//! itself, rather than calling pp_health() and friends, because those take
//! a pool and lease their own seat: a held lease could not use them.
//!
//! Every method returns the 2xx body as JSON (`Value::Null` for an empty
//! one, e.g. 204), or `Error::Http` with PhantomDB's code and message for
//! any other status, or `Error::Pool` (PP_E*) when the pool failed.
//! Invalid arguments (an empty name, a row that is not an object, a NaN or
//! infinity anywhere in a body) are `PP_EINVAL`, as in C, and send nothing.
use crate::error::{Error, ErrorCode, Result};
use crate::json::Value;
use crate::pool::{Pool, PooledConnection};
use crate::request::{Request, Response};

/// A table column for [`Client::create_table`].
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    /// e.g. "INTEGER", "TEXT"; `None` leaves the field out.
    pub type_: Option<String>,
    pub nullable: bool,
    pub primary_key: bool,
    /// The column's default value, `None` for none.
    pub default: Option<Value>,
}

impl Column {
    /// A nullable column of `type_`, not part of the primary key.
    pub fn new(name: &str, type_: &str) -> Column {
        Column {
            name: name.to_string(),
            type_: Some(type_.to_string()),
            nullable: true,
            primary_key: false,
            default: None,
        }
    }
    /// Part of the primary key, and not nullable.
    pub fn primary_key(mut self) -> Column {
        self.primary_key = true;
        self.nullable = false;
        self
    }
    pub fn not_null(mut self) -> Column {
        self.nullable = false;
        self
    }
    pub fn default(mut self, v: impl Into<Value>) -> Column {
        self.default = Some(v.into());
        self
    }

    fn to_json(&self) -> Value {
        let mut m = vec![("name".to_string(), Value::from(self.name.as_str()))];
        if let Some(t) = &self.type_ {
            m.push(("type".to_string(), Value::from(t.as_str())));
        }
        m.push(("nullable".to_string(), Value::Bool(self.nullable)));
        m.push(("primaryKey".to_string(), Value::Bool(self.primary_key)));
        if let Some(d) = &self.default {
            m.push(("defaultValue".to_string(), d.clone()));
        }
        Value::Object(m)
    }
}

/// Query arguments of [`Client::get_rows`]; `None` / 0 leave one out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowQuery {
    pub where_: Option<String>,
    pub order_by: Option<String>,
    /// 1..10000 (0: the backend's default).
    pub limit: u32,
    pub offset: u32,
}

/// Percent-escape one path segment or query value (the C library's rule).
pub fn escape(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[(b >> 4) as usize] as char);
            out.push(HEX[(b & 15) as usize] as char);
        }
    }
    out
}

/// "/" plus the escaped name; PP_EINVAL for an empty name.
fn seg(path: &mut String, name: &str, what: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::with(ErrorCode::Inval, format!("{} is empty", what)));
    }
    path.push('/');
    if name == "." || name == ".." {
        path.push_str(&"%2E".repeat(name.len()));
    } else {
        path.push_str(&escape(name));
    }
    Ok(())
}

fn db_path(db: &str) -> Result<String> {
    let mut p = String::from("/databases");
    seg(&mut p, db, "database name")?;
    Ok(p)
}

fn table_path(db: &str, table: &str) -> Result<String> {
    let mut p = db_path(db)?;
    p.push_str("/tables");
    seg(&mut p, table, "table name")?;
    Ok(p)
}

fn query_args(path: &mut String, args: &[(&str, Option<&str>)]) {
    let mut first = true;
    for (k, v) in args {
        if let Some(v) = v {
            path.push(if first { '?' } else { '&' });
            first = false;
            path.push_str(k);
            path.push('=');
            path.push_str(&escape(v));
        }
    }
}

fn nonempty(s: &str, what: &str) -> Result<()> {
    if s.is_empty() {
        Err(Error::with(ErrorCode::Inval, format!("{} is empty", what)))
    } else {
        Ok(())
    }
}

fn must_be_object(v: &Value, what: &str) -> Result<()> {
    if v.is_object() {
        Ok(())
    } else {
        Err(Error::with(ErrorCode::Inval, format!("{} must be a JSON object", what)))
    }
}

fn get(path: String) -> Request {
    Request::get(&path).header("Accept", "application/json")
}

fn with_body(method: &str, path: &str, body: &Value) -> Request {
    Request::new(method, path)
        .header("Accept", "application/json")
        .json(body)
}

/// The PhantomDB routes (docs: PHANTOMDB-API.md), for anything that can
/// send a request: [`Pool`] (one seat per call) and [`PooledConnection`].
pub trait Client {
    /// Send one request and read the whole response (any HTTP status).
    fn send(&self, req: &Request) -> Result<Response>;

    /// GET /health.
    fn health(&self) -> Result<Value> {
        self.send(&get("/health".into()))?.into_json()
    }
    /// GET /databases.
    fn list_databases(&self) -> Result<Value> {
        self.send(&get("/databases".into()))?.into_json()
    }
    /// POST /databases {"name", "options": {}}.
    fn create_database(&self, db: &str) -> Result<Value> {
        nonempty(db, "database name")?;
        let body = Value::object([("name", Value::from(db)), ("options", Value::Object(vec![]))]);
        self.send(&with_body("POST", "/databases", &body))?.into_json()
    }
    /// GET /databases/{db}.
    fn get_database(&self, db: &str) -> Result<Value> {
        self.send(&get(db_path(db)?))?.into_json()
    }
    /// DELETE /databases/{db}.
    fn drop_database(&self, db: &str) -> Result<Value> {
        self.send(&Request::delete(&db_path(db)?).header("Accept", "application/json"))?
            .into_json()
    }
    /// GET /databases/{db}/tables.
    fn list_tables(&self, db: &str) -> Result<Value> {
        self.send(&get(db_path(db)? + "/tables"))?.into_json()
    }
    /// POST /databases/{db}/tables {"name", "columns": [Column...]}.
    fn create_table(&self, db: &str, table: &str, columns: &[Column]) -> Result<Value> {
        nonempty(table, "table name")?;
        for c in columns {
            nonempty(&c.name, "column name")?;
        }
        let body = Value::object([
            ("name", Value::from(table)),
            ("columns", Value::Array(columns.iter().map(Column::to_json).collect())),
        ]);
        self.send(&with_body("POST", &(db_path(db)? + "/tables"), &body))?
            .into_json()
    }
    /// GET /databases/{db}/tables/{table}.
    fn get_table(&self, db: &str, table: &str) -> Result<Value> {
        self.send(&get(table_path(db, table)?))?.into_json()
    }
    /// DELETE /databases/{db}/tables/{table}.
    fn drop_table(&self, db: &str, table: &str) -> Result<Value> {
        self.send(&Request::delete(&table_path(db, table)?).header("Accept", "application/json"))?
            .into_json()
    }
    /// POST .../rows {"rows": rows}; every row must be an object.
    fn insert_rows(&self, db: &str, table: &str, rows: &[Value]) -> Result<Value> {
        for r in rows {
            must_be_object(r, "each row")?;
        }
        let body = Value::object([("rows", Value::Array(rows.to_vec()))]);
        self.send(&with_body("POST", &(table_path(db, table)? + "/rows"), &body))?
            .into_json()
    }
    /// GET .../rows?where=&orderBy=&limit=&offset=.
    fn get_rows(&self, db: &str, table: &str, q: &RowQuery) -> Result<Value> {
        let mut p = table_path(db, table)? + "/rows";
        let (lim, off) = (q.limit.to_string(), q.offset.to_string());
        query_args(
            &mut p,
            &[
                ("where", q.where_.as_deref().filter(|s| !s.is_empty())),
                ("orderBy", q.order_by.as_deref().filter(|s| !s.is_empty())),
                ("limit", Some(lim.as_str()).filter(|_| q.limit != 0)),
                ("offset", Some(off.as_str()).filter(|_| q.offset != 0)),
            ],
        );
        self.send(&get(p))?.into_json()
    }
    /// POST /databases/{db}/query {"query": sql, "parameters": params}.
    fn query(&self, db: &str, sql: &str, params: &[Value]) -> Result<Value> {
        nonempty(sql, "sql")?;
        let body = Value::object([
            ("query", Value::from(sql)),
            ("parameters", Value::Array(params.to_vec())),
        ]);
        self.send(&with_body("POST", &(db_path(db)? + "/query"), &body))?
            .into_json()
    }
    /// POST /databases/{db}/tables/{table} with one row object.
    fn insert(&self, db: &str, table: &str, row: &Value) -> Result<Value> {
        must_be_object(row, "row")?;
        self.send(&with_body("POST", &table_path(db, table)?, row))?.into_json()
    }
    /// GET /databases/{db}/tables/{table}?condition=... (`{"records": [...]}`);
    /// an empty condition selects every row.
    fn select(&self, db: &str, table: &str, condition: &str) -> Result<Value> {
        let mut p = table_path(db, table)?;
        query_args(&mut p, &[("condition", Some(condition))]);
        self.send(&get(p))?.into_json()
    }
    /// PUT /databases/{db}/tables/{table} {"data", "condition"}.
    fn update(&self, db: &str, table: &str, data: &Value, condition: &str) -> Result<Value> {
        nonempty(condition, "condition")?;
        must_be_object(data, "data")?;
        let body = Value::object([("data", data.clone()), ("condition", Value::from(condition))]);
        self.send(&with_body("PUT", &table_path(db, table)?, &body))?
            .into_json()
    }
    /// DELETE /databases/{db}/tables/{table}?condition=...
    fn delete(&self, db: &str, table: &str, condition: &str) -> Result<Value> {
        nonempty(condition, "condition")?;
        let mut p = table_path(db, table)?;
        query_args(&mut p, &[("condition", Some(condition))]);
        self.send(&Request::delete(&p).header("Accept", "application/json"))?
            .into_json()
    }
    /// POST /transactions; returns the transaction id.
    fn tx_begin(&self) -> Result<String> {
        let resp = self.send(&Request::post("/transactions").header("Accept", "application/json"))?;
        let status = resp.status();
        let v = resp.into_json()?;
        v["transaction_id"]
            .as_str()
            .map(str::to_string)
            .ok_or_else(|| Error::BadResponse {
                status,
                why: "no transaction_id string in the answer".to_string(),
            })
    }
    /// POST /transactions/{id}/commit.
    fn tx_commit(&self, tx_id: &str) -> Result<Value> {
        let mut p = String::from("/transactions");
        seg(&mut p, tx_id, "transaction id")?;
        self.send(&Request::post(&(p + "/commit")).header("Accept", "application/json"))?
            .into_json()
    }
    /// POST /transactions/{id}/rollback.
    fn tx_rollback(&self, tx_id: &str) -> Result<Value> {
        let mut p = String::from("/transactions");
        seg(&mut p, tx_id, "transaction id")?;
        self.send(&Request::post(&(p + "/rollback")).header("Accept", "application/json"))?
            .into_json()
    }
}

impl Client for Pool {
    fn send(&self, req: &Request) -> Result<Response> {
        self.request(req)
    }
}

impl Client for PooledConnection {
    fn send(&self, req: &Request) -> Result<Response> {
        self.request(req)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_the_c_library() {
        assert_eq!(escape("a b/c?é~._-"), "a%20b%2Fc%3F%C3%A9~._-");
        assert_eq!(table_path("my db", "..").unwrap(), "/databases/my%20db/tables/%2E%2E");
        assert_eq!(db_path(".").unwrap(), "/databases/%2E");
        assert_eq!(db_path("").unwrap_err().code(), Some(ErrorCode::Inval));
        let mut p = String::from("/x");
        query_args(
            &mut p,
            &[("where", None), ("orderBy", Some("a desc")), ("limit", Some("3"))],
        );
        assert_eq!(p, "/x?orderBy=a%20desc&limit=3");
    }

    #[test]
    fn column_json_matches_the_c_helpers() {
        let c = Column::new("id", "INTEGER").primary_key().default(5);
        assert_eq!(
            c.to_json().to_string(),
            r#"{"name":"id","type":"INTEGER","nullable":false,"primaryKey":true,"defaultValue":5}"#
        );
    }
}
