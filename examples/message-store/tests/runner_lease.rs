//! Tests that take their database from `DATABASE_URL`, as the runner
//! leases it (`[database.leased]`); under plain `cargo test` they lease one
//! themselves. Each inserts the same unique tenant: sharing a database,
//! all but one would fail.

use gantry_db::postgres::{Client, NoTls};

fn with_database(test: impl FnOnce(&mut Client)) {
    if std::env::var_os("GANTRY").is_some() {
        let url = std::env::var("DATABASE_URL")
            .expect("under gantry, [database.leased] hands this test DATABASE_URL");
        let mut client = Client::connect(&url, NoTls).expect("connect to DATABASE_URL");
        test(&mut client);
    } else {
        let mut db = gantry_db::TestDb::checkout("leased").expect("a test database");
        test(db.client().expect("connection"));
    }
}

fn insert_the_same_tenant(client: &mut Client) {
    client
        .execute(
            "INSERT INTO tenants (slug, name) VALUES ('leased', 'Leased')",
            &[],
        )
        .expect("no other test wrote this tenant into my database");
    let n: i64 = client
        .query_one("SELECT count(*) FROM tenants WHERE slug = 'leased'", &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 1);
}

#[test]
fn lease_one() {
    with_database(insert_the_same_tenant);
}

#[test]
fn lease_two() {
    with_database(insert_the_same_tenant);
}

#[test]
fn lease_three() {
    with_database(insert_the_same_tenant);
}

#[test]
fn lease_four() {
    with_database(insert_the_same_tenant);
}
