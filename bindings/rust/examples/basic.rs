//! The seed's Rust pool usage, on the host-wide pool:
//!
//!     let pool = create_pool();
//!     let pooled_connection = pool.acquire().await?;
//!     // connection released when pooled_connection goes out of scope
//!
//! Run it against a pool (from the top of the tree):
//!     tests/with-pool -- build/rust/debug/examples/basic
use std::time::Duration;

use phantompool::prelude::*;

fn main() -> Result<(), Error> {
    let pool = create_pool()?; // $PHANTOMPOOL, else "default"
    println!("health: {}", pool.health()?);

    let db = format!("example_{}", std::process::id());
    {
        // Hold one seat for a sequence of calls; released at the end of the block.
        let conn = pool.acquire(Duration::from_secs(30))?;
        println!("leased slot {}", conn.slot());
        conn.create_database(&db)?;
        conn.create_table(
            &db,
            "users",
            &[
                Column::new("id", "INTEGER").primary_key(),
                Column::new("name", "TEXT").not_null(),
            ],
        )?;
        let rows = [
            Value::object([("id", Value::from(1)), ("name", Value::from("ada"))]),
            Value::object([("id", Value::from(2)), ("name", Value::from("grace"))]),
        ];
        println!("insert: {}", conn.insert_rows(&db, "users", &rows)?);
        let r = conn.query(&db, "SELECT name FROM users WHERE id > ?", &[Value::from(1)])?;
        println!("query: {} row(s): {}", r["rowCount"], r["rows"]);
        let st = pool.status()?;
        println!("while held: {} used, {} available of {}", st.used, st.available, st.max);
    }
    let st = pool.status()?;
    println!("after drop: {} used, {} available of {}", st.used, st.available, st.max);

    // Errors carry PhantomDB's status, or the pool's PP_E* code and text.
    match pool.get_table(&db, "nope") {
        Err(e @ Error::Http { status: 404, .. }) => println!("expected: {}", e),
        other => println!("unexpected: {:?}", other),
    }
    if let Err(e) = Pool::open("no-such-pool") {
        println!("expected: {} (code {:?})", e, e.code());
    }
    pool.drop_database(&db)?;
    Ok(())
}
