use super::*;

#[test]
fn names_round_trip_and_unknown_names_say_what_is_expected() {
    // Goal: every documented name parses back to itself; a typo names the choices.
    for name in Provider::NAMES {
        assert_eq!(name.parse::<Provider>().unwrap().to_string(), name);
    }
    for name in AofPolicy::NAMES {
        assert_eq!(name.parse::<AofPolicy>().unwrap().to_string(), name);
    }
    let error = "dockr".parse::<Provider>().unwrap_err();
    assert!(
        error.contains("`dockr`") && error.contains("containers"),
        "{error}"
    );
    let error = "sometimes".parse::<AofPolicy>().unwrap_err();
    assert!(error.contains("everysec"), "{error}");
}

#[test]
fn aof_policies_map_to_explicit_redis_arguments() {
    // Goal: each policy sets appendonly and appendfsync explicitly and turns RDB off.
    assert_eq!(
        AofPolicy::Always.redis_args(),
        [
            "--save",
            "",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always"
        ]
    );
    assert_eq!(
        AofPolicy::No.redis_args(),
        ["--save", "", "--appendonly", "yes", "--appendfsync", "no"]
    );
    assert_eq!(
        AofPolicy::Off.redis_args(),
        ["--save", "", "--appendonly", "no"]
    );
}
