//! Database names turnout makes for itself during a sync
//! (`<db>__turnout_staging`, `<db>__turnout_old`, anything `__turnout*`)
//! are refused in data bindings, so a sync of one binding can never load
//! into, or drop, the database of another.

mod common;

use common::{describe, single, valid_plan};
use turnout_crds::names::{OLD_SUFFIX, RESERVED_PREFIX, STAGING_SUFFIX};
use turnout_crds::validate::{ViolationKind, database_name_ok, validate_plan};

#[test]
fn the_suffixes_are_the_names_a_sync_makes() {
    assert_eq!(STAGING_SUFFIX, "__turnout_staging");
    assert_eq!(OLD_SUFFIX, "__turnout_old");
    assert_eq!(RESERVED_PREFIX, "__turnout");
}

fn with_database(db: &str) -> turnout_crds::PortPlanSpec {
    let mut p = valid_plan();
    p.versions[1].data[0].database = Some(db.to_string());
    p
}

#[test]
fn a_database_named_like_a_staging_or_old_copy_is_refused() {
    for db in [
        "future_users__turnout_staging",
        "future_users__turnout_old",
        "x__turnout_old",
        "FUTURE_USERS__TURNOUT_STAGING",
        "Future_Users__Turnout_Old",
    ] {
        let v = single(&with_database(db), ViolationKind::InvalidDataBinding);
        assert_eq!(v.path, "spec.versions[1].data[0].database", "{db}");
        assert!(
            v.message.contains("ends in __turnout_") && v.message.contains("rename the database"),
            "{db}: {}",
            v.message
        );
        assert!(!database_name_ok(db), "{db}");
    }
}

#[test]
fn a_database_starting_with_turnouts_prefix_is_refused() {
    for db in [
        "__turnout",
        "__turnout_staging",
        "__turnoutdata",
        "__TURNOUT_x",
    ] {
        let v = single(&with_database(db), ViolationKind::InvalidDataBinding);
        assert_eq!(v.path, "spec.versions[1].data[0].database", "{db}");
        assert!(
            v.message.contains("starts with __turnout"),
            "{db}: {}",
            v.message
        );
        assert!(!database_name_ok(db), "{db}");
    }
}

#[test]
fn names_that_only_look_alike_are_accepted() {
    for db in [
        "dao_users",
        "users_turnout_old",
        "turnout_staging",
        "_turnout",
        "users__turnout_staging_v2",
        "users__turnout_older",
        "a__turnout",
    ] {
        let found = validate_plan(&with_database(db));
        assert!(found.is_empty(), "{db}:\n{}", describe(&found));
        assert!(database_name_ok(db), "{db}");
    }
}
