//! The hand-made host's data: rows written into each database when it is
//! built, and fingerprints of them a test compares before and after
//! (`CHECKSUM TABLE`, an md5 of the ordered rows, every Redis key and
//! value). SQL and Redis commands go on stdin; no password is needed (the
//! demo images let root in through the local socket) and none is passed.

use super::run::docker_in;

/// The MariaDB database the host's `future` version uses.
pub const MYSQL_DATABASE: &str = "future_users";
/// The PostgreSQL database, created when the server first starts.
pub const POSTGRES_DATABASE: &str = "future_accounts";

const MARIADB: [&str; 5] = [
    "mariadb",
    "--no-defaults",
    "--protocol=socket",
    "--user=root",
    "--batch",
];

/// `mariadb` in `container`, SQL on stdin; its output.
pub fn mariadb(container: &str, sql: &str) -> String {
    let mut args = vec!["exec", "-i", container];
    args.extend(MARIADB);
    docker_in(&args, sql)
}

/// `psql` in `container` on `database`, SQL on stdin; unaligned tuples.
pub fn psql(container: &str, database: &str, sql: &str) -> String {
    docker_in(
        &[
            "exec",
            "-i",
            container,
            "psql",
            "-U",
            "postgres",
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-A",
            "-t",
        ],
        sql,
    )
}

/// `redis-cli` in `container`, commands on stdin, one a line.
pub fn redis(container: &str, commands: &str) -> String {
    docker_in(&["exec", "-i", container, "redis-cli"], commands)
}

pub fn fill_mysql(container: &str) {
    mariadb(
        container,
        &format!(
            "USE `{MYSQL_DATABASE}`;
             CREATE TABLE users (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, email VARCHAR(128));
             INSERT INTO users VALUES (1, 'alice', 'alice@example.com'),
               (2, 'bob', NULL), (3, 'o''brien', 'ob@example.com'), (4, 'zoë', 'z@example.com');"
        ),
    );
}

pub fn fill_postgres(container: &str) {
    psql(
        container,
        POSTGRES_DATABASE,
        "CREATE TABLE accounts (id INT PRIMARY KEY, owner TEXT NOT NULL, balance NUMERIC(12,2));
         INSERT INTO accounts VALUES (1, 'alice', 10.50), (2, 'bob', 0), (3, 'carol', -3.25);",
    );
}

pub fn fill_redis(container: &str) {
    redis(
        container,
        "SET user:1 alice\nSET user:2 bob\nRPUSH queue a b c\nSET counter 42\n",
    );
}

/// `CHECKSUM TABLE` of the users table: `future_users.users\t<sum>`.
pub fn mysql_checksum(container: &str) -> String {
    mariadb(
        container,
        &format!("CHECKSUM TABLE `{MYSQL_DATABASE}`.users;"),
    )
    .lines()
    .last()
    .unwrap_or_default()
    .to_string()
}

/// md5 of the accounts table's rows in id order, and their number.
pub fn postgres_checksum(container: &str) -> String {
    psql(
        container,
        POSTGRES_DATABASE,
        "SELECT count(*) || ' ' || md5(string_agg(a::text, ',' ORDER BY id)) FROM accounts a;",
    )
}

/// Every key with its type and value, sorted: `key type value`.
pub fn redis_contents(container: &str) -> String {
    let keys = redis(container, "KEYS *\n");
    let mut keys: Vec<&str> = keys.lines().filter(|k| !k.is_empty()).collect();
    keys.sort();
    keys.iter()
        .map(|k| {
            let kind = redis(container, &format!("TYPE {k}\n"));
            let value = match kind.as_str() {
                "list" => redis(container, &format!("LRANGE {k} 0 -1\n")).replace('\n', ","),
                _ => redis(container, &format!("GET {k}\n")),
            };
            format!("{k} {kind} {value}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
