use super::*;

#[test]
fn image_names_split_into_name_and_tag() {
    // Goal: tags, bare names and registry ports are told apart.
    assert_eq!(split_image("redis:7"), ("redis", "7"));
    assert_eq!(split_image("postgres"), ("postgres", "latest"));
    assert_eq!(
        split_image("registry.local:5000/team/redis:7.2"),
        ("registry.local:5000/team/redis", "7.2")
    );
    assert_eq!(
        split_image("registry.local:5000/redis"),
        ("registry.local:5000/redis", "latest")
    );
}
