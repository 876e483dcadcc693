use super::*;

#[test]
fn glob_escape_makes_shop_names_literal() {
    // Goal: a shop name with glob metacharacters matches only itself in SCAN MATCH.
    assert_eq!(glob_escape("sp:{shop}:"), "sp:{shop}:");
    assert_eq!(glob_escape("sp:{a*b?[c]}:"), "sp:{a\\*b\\?\\[c\\]}:");
}
