use std::path::Path;
use std::time::Duration;

use serde_json::json;

use super::rules::{Rule, classify};
use super::*;

/// The adapter of `text`, or its error as text.
fn parsed(text: &str) -> Result<Adapter, String> {
    parse(text, Path::new("test-adapter.toml")).map_err(|error| error.to_string())
}

/// A minimal valid adapter plus `extra` (appended).
fn minimal(extra: &str) -> String {
    format!(
        r#"
[adapter]
name = "t"
identity = "key"
seed = "out_of_band"

[ops.get_sku]
method = "GET"
path = "/stock/{{{{ sku.id }}}}"
extract = {{ available = "/available", reserved = "/reserved", sold = {{ expr = "0" }}, total = {{ expr = "available + reserved" }} }}
{extra}"#
    )
}

// Goal: the built-in contract adapter is valid and has every operation.
#[test]
fn builtin_adapter_loads_with_every_op() {
    let adapter = builtin();
    assert_eq!(adapter.name, "stockproof");
    for op in OpKind::ALL.into_iter().filter(|op| *op != OpKind::Fault) {
        assert!(adapter.supports(op), "{op:?}");
    }
    // The load's hot path: every request template of the contract is written without
    // a render (`shortcut`), the cart body's loop included.
    let requests: Vec<&str> = adapter
        .templates
        .templates()
        .map(|(name, _)| name)
        .filter(|name| name.starts_with("ops."))
        .collect();
    assert!(requests.contains(&"ops.reserve.body"), "{requests:?}");
    for name in requests {
        assert!(
            adapter.shortcuts.contains_key(name),
            "{name} has no shortcut"
        );
    }
}

// Goal: every shipped adapter file loads (secrets they read from the environment set).
#[test]
fn shipped_adapters_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../adapters");
    for entry in std::fs::read_dir(&dir).expect("adapters/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|ext| ext == "toml") {
            load(&path).unwrap_or_else(|error| panic!("{error}"));
        }
    }
}

// Goal: each kind of bad adapter file is refused with the key and line that are wrong.
// Method: one broken file per case, the error text checked for `file:line` and key.
#[test]
fn bad_adapter_files_name_their_line_and_key() {
    let cases: [(&str, &str, &str); 8] = [
        (
            "[ops.reserve]\nmethod = \"POST\"\npath = \"/r\"\nbodyy = \"{}\"\n",
            ":14:",
            "unknown field `bodyy`",
        ),
        (
            "[ops.reserve]\nmethod = \"POST\"\npath = \"/r/{{ saved.order }}\"\n",
            "`ops.reserve.path`",
            "undefined",
        ),
        (
            "[ops.reserve]\nmethod = \"POST\"\npath = \"/r\"\nbody = '{\"k\": {{ key }}}'\n",
            "`ops.reserve.body`",
            "does not render JSON",
        ),
        (
            "[ops.confirm]\nmethod = \"POST\"\npath = \"/c\"\nreplies = [{ status = \"2xx\", outcome = \"ok\" }, { status = 200, when = { \"/code\" = \"0\" }, outcome = \"ok\" }]\n",
            "`ops.confirm.replies[1]`",
            "can never match",
        ),
        (
            "[ops.confirm]\nmethod = \"POST\"\npath = \"/c\"\nreplies = [{ outcome = \"continue\" }]\n",
            "`ops.confirm.replies[0]`",
            "last step",
        ),
        (
            "[ops.confirm]\nmethod = \"POST\"\npath = \"/c\"\nreplies = [{ status = 200, when = { \"code\" = \"0\" }, outcome = \"ok\" }]\n",
            "`ops.confirm.replies[0]`",
            "not a JSON pointer",
        ),
        (
            "[ops.confirm]\nmethod = \"POST\"\npath = \"/c\"\nreplies = [{ status = 200, outcome = \"sold\" }]\n",
            "`ops.confirm.replies[0]`",
            "outcome `sold`",
        ),
        (
            "[ops.buy]\nmethod = \"POST\"\npath = \"/b\"\n",
            "`ops.buy`",
            "not an operation",
        ),
    ];
    for (extra, key, reason) in cases {
        let error = parsed(&minimal(extra)).expect_err(extra);
        assert!(error.starts_with("adapter test-adapter.toml:"), "{error}");
        assert!(error.contains(key), "{key} in {error}");
        assert!(error.contains(reason), "{reason} in {error}");
    }
}

// Goal: the adapter as a whole must be usable: an id to extract when the service hands
// one out, an operation to seed with, a secret that is set.
#[test]
fn adapters_that_cannot_work_are_refused() {
    let reply_identity = minimal("[ops.reserve]\nmethod = \"POST\"\npath = \"/r\"\n")
        .replace("identity = \"key\"", "identity = \"reply\"");
    let error = parsed(&reply_identity).unwrap_err();
    assert!(error.contains("ops.reserve.extract.reservation"), "{error}");
    let restock_seed = minimal("").replace("seed = \"out_of_band\"", "seed = \"restock\"");
    let error = parsed(&restock_seed).unwrap_err();
    assert!(error.contains("needs `ops.restock`"), "{error}");
    let secret = minimal("[vars]\ntoken = { env = \"STOCKPROOF_TEST_UNSET_SECRET\" }\n");
    let mut adapter = parsed(&secret).expect("a file checks without its secrets");
    let error = adapter.resolve_secrets().unwrap_err().to_string();
    assert!(
        error.contains("`vars.token`") && error.contains("STOCKPROOF_TEST_UNSET_SECRET"),
        "{error}"
    );
}

// Goal: a service's own request timeout is read, refused when zero or not a duration,
// and only ever lengthens the one a request gets.
#[test]
fn client_timeout_only_lengthens_a_request_timeout() {
    let with = |value: &str| {
        parsed(&minimal("").replace(
            "seed = \"out_of_band\"",
            &format!("seed = \"out_of_band\"\nclient_timeout = {value}"),
        ))
    };
    let adapter = with("\"30s\"").unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(adapter.client_timeout, Some(Duration::from_secs(30)));
    assert_eq!(
        adapter.request_timeout(Duration::from_secs(2)),
        Duration::from_secs(30)
    );
    assert_eq!(
        adapter.request_timeout(Duration::from_secs(90)),
        Duration::from_secs(90)
    );
    for bad in ["\"0s\"", "\"soon\""] {
        let error = with(bad).expect_err(bad);
        assert!(
            error.contains("adapter.client_timeout") || error.contains("client_timeout"),
            "{error}"
        );
        assert!(error.starts_with("adapter test-adapter.toml:"), "{error}");
    }
    assert_eq!(
        parsed(&minimal("")).map(|adapter| adapter.client_timeout),
        Ok(None)
    );
}

// Goal: `adapter.metrics` takes a path on the target or a URL, and refuses anything
// else naming the key.
#[test]
fn metrics_is_a_path_or_a_url() {
    let with = |value: &str| {
        parsed(&minimal("").replace(
            "seed = \"out_of_band\"",
            &format!("seed = \"out_of_band\"\nmetrics = {value}"),
        ))
    };
    for good in ["\"/metrics\"", "\"http://127.0.0.1:9100/metrics\""] {
        let adapter = with(good).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(adapter.metrics.as_deref(), Some(good.trim_matches('"')));
    }
    let error = with("\"metrics\"").expect_err("a bare word");
    assert!(
        error.contains("adapter.metrics") && error.contains("a path starting with `/`"),
        "{error}"
    );
}

/// The rules of the built-in adapter's reserve.
fn reserve_rules() -> Vec<Rule> {
    builtin().ops[&OpKind::Reserve].steps[0].replies.clone()
}

// Goal: the contract's replies classify as DESIGN §6 says: 201 reserved, 200 replayed,
// 409 insufficient stock, 422 key reused, 503 a refusal, and a reply no rule names
// (a 500, a 418) matches nothing (so it is recorded unknown).
#[test]
fn builtin_rules_classify_contract_replies() {
    let rules = reserve_rules();
    let outcome = |status: u16, body: serde_json::Value| {
        classify(&rules, status, Some(&body)).map(|rule| rule.outcome)
    };
    assert_eq!(outcome(201, json!({"id": "r1"})), Some(RuleOutcome::Ok));
    assert_eq!(
        outcome(200, json!({"id": "r1"})),
        Some(RuleOutcome::Replayed)
    );
    assert_eq!(
        outcome(
            409,
            json!({"error": "insufficient_stock", "sku": "a", "available": 0})
        ),
        Some(RuleOutcome::InsufficientStock)
    );
    assert_eq!(
        outcome(422, json!({"error": "idempotency_key_reused"})),
        Some(RuleOutcome::KeyReused)
    );
    assert_eq!(
        outcome(422, json!({"error": "invalid_input"})),
        Some(RuleOutcome::BadInput)
    );
    assert_eq!(outcome(503, json!({})), Some(RuleOutcome::Unavailable));
    assert_eq!(outcome(500, json!({})), None);
    assert_eq!(outcome(418, json!({})), None);
}

// Goal: `when` compares business codes spelled as strings or numbers alike, and
// `exists` tests presence.
#[test]
fn when_matches_codes_as_text_and_presence() {
    let adapter = parsed(&minimal(
        "[ops.confirm]\nmethod = \"POST\"\npath = \"/c\"\nreplies = [\n  { status = 200, when = { \"/code\" = \"0\", \"/data/id\" = { exists = true } }, outcome = \"ok\" },\n  { status = 200, when = { \"/code\" = 40901 }, outcome = \"not_held\" },\n]\n",
    ))
    .unwrap_or_else(|error| panic!("{error}"));
    let rules = &adapter.ops[&OpKind::Confirm].steps[0].replies;
    let outcome =
        |body: serde_json::Value| classify(rules, 200, Some(&body)).map(|rule| rule.outcome);
    assert_eq!(
        outcome(json!({"code": 0, "data": {"id": 7}})),
        Some(RuleOutcome::Ok)
    );
    assert_eq!(
        outcome(json!({"code": "0", "data": {"id": 7}})),
        Some(RuleOutcome::Ok)
    );
    assert_eq!(outcome(json!({"code": "0", "data": {}})), None);
    assert_eq!(
        outcome(json!({"code": "40901"})),
        Some(RuleOutcome::NotHeld)
    );
    assert_eq!(
        classify(rules, 201, Some(&json!({"code": 0, "data": {"id": 7}}))),
        None
    );
}

// Goal: a template's shortcut writes exactly what its full render writes, and a
// template it cannot write (another filter, an expression, a loop over what is not a
// list, a missing value) has none or falls back. Method: a table of templates, each
// rendered by minijinja (strict, no escaping, as adapters compile) and through its
// shortcut, against contexts whose carts have zero to three lines.
#[test]
fn template_shortcuts_write_what_a_render_writes() {
    use minijinja::{AutoEscape, Environment, UndefinedBehavior, Value};
    use shortcut::Shortcut;
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|_| AutoEscape::None);
    let line =
        |id: &str, qty: i64| Value::from_iter([("id", Value::from(id)), ("qty", Value::from(qty))]);
    let carts = [
        vec![],
        vec![line("drop \"001\"", 1)],
        vec![line("a<b>&'c", 2), line("ä/ö?x=y", -3), line("z", 0)],
    ];
    let cases: [(&str, bool); 26] = [
        ("/v1/reservations", true),
        ("{}", true),
        ("{{ key }}", true),
        ("{{key}}", true),
        ("{{ key | urlencode }}", true),
        ("{{ sku.id|urlencode }}", true),
        ("{{ sku.n }}", true),
        ("{{ qty | urlencode }}", true),
        ("{{ none_value }}", true),
        ("{{ flag }}", true),
        ("{{ sku }}", true),
        ("/a/{{ key }}", true),
        ("{{ key }}{{ qty }}", true),
        ("{{- key -}}\n", true),
        ("{{ key | tojson }} {{ items | tojson }}", true),
        (
            "{\"items\": [{% for line in items %}{\"sku\": {{ line.id | tojson }}, \"qty\": {{ line.qty }}}{% if not loop.last %}, {% endif %}{% endfor %}],\n \"ttl_ms\": {{ qty }}}\n",
            true,
        ),
        (
            "{% for line in items %}{% if loop.first %}[{% else %},{% endif %}{{ line.qty }}{% endfor %}",
            true,
        ),
        (
            "{% for a in items %}{% for b in items %}{{ a.qty }}{{ b.id }}{% if loop.last %};{% endif %}{% endfor %}{% endfor %}",
            true,
        ),
        (
            "{% for key in items %}{{ key.id }}{% endfor %}{{ key }}",
            true,
        ),
        ("{{ none }}", false),
        ("{{ key | upper }}", false),
        ("{{ key | tojson(indent=2) }}", false),
        ("{% for line in items %}{{ loop.index }}{% endfor %}", false),
        (
            "{% for line in items if line.qty %}{{ line.id }}{% endfor %}",
            false,
        ),
        ("{% if flag %}x{% endif %}", false),
        ("{{ qty + 1 }}", false),
    ];
    for items in carts {
        let context = Value::from_iter([
            ("key", Value::from("k 1/ä&x=y")),
            ("qty", Value::from(-3)),
            ("none_value", Value::from(())),
            ("flag", Value::from(true)),
            (
                "sku",
                Value::from_iter([("id", Value::from("drop 001?")), ("n", Value::from(7))]),
            ),
            ("items", Value::from(items)),
        ]);
        for (template, has_shortcut) in cases {
            let shortcut = Shortcut::of(template);
            assert_eq!(shortcut.is_some(), has_shortcut, "{template}");
            let rendered = env.render_str(template, &context).expect(template);
            if let Some(shortcut) = shortcut {
                assert_eq!(shortcut.output(&context), Some(rendered), "{template}");
            }
        }
    }
    // A name the context lacks, or a loop over what is not a list: no shortcut output;
    // the render decides (strict: an error when printed, `""` through urlencode).
    let context = Value::from_iter([("sku", Value::from("x")), ("n", Value::from(3))]);
    for template in [
        "{{ missing }}",
        "{{ sku.missing | urlencode }}",
        "{% for c in sku %}{{ c }}{% endfor %}",
        "{% for c in n %}{{ c }}{% endfor %}",
    ] {
        let shortcut = Shortcut::of(template).expect("a shortcut");
        assert_eq!(shortcut.output(&context), None, "{template}");
    }
    assert!(env.render_str("{{ missing }}", &context).is_err());
}

// Goal: a reply parsed for a step's pointers answers each of those pointers as the
// whole parsed reply does, and `find` reads a pointer as serde_json does. Method: replies of several shapes (envelopes, arrays,
// escaped keys, duplicate keys, a scalar where an object is expected), each parsed
// for a set of pointers and compared pointer by pointer with serde_json's full parse.
#[test]
fn a_reply_parsed_for_its_pointers_answers_them_as_the_whole_reply() {
    use pruned::Reads;
    let replies = [
        r#"{"id":"r1","state":"held","items":[{"sku":"a","qty":1},{"sku":"b","qty":2}],"deadline_ms":4102444800000}"#,
        r#"{"code":"0","data":{"availableQty":100,"list":[{"status":"RESERVED"}]},"a/b":{"m~n":true}}"#,
        r#"{"error":"x","error":"insufficient_stock","data":"not an object","n":null}"#,
        r#"[{"id":1},{"id":2},{"id":3}]"#,
        r#""just a string""#,
    ];
    let pointers = [
        "/id",
        "/state",
        "/items/1/sku",
        "/items/01/sku",
        "/items/9",
        "/code",
        "/data/availableQty",
        "/data/list/0/status",
        "/a~1b/m~0n",
        "/error",
        "/data/id",
        "/n",
        "/1/id",
        "/missing",
    ];
    for reply in replies {
        let whole: serde_json::Value = serde_json::from_str(reply).expect(reply);
        let mut reads = Reads::default();
        pointers.iter().for_each(|pointer| reads.add(pointer));
        let pruned = reads.parse(reply.as_bytes()).expect(reply);
        for pointer in pointers {
            assert_eq!(
                pruned.pointer(pointer),
                whole.pointer(pointer),
                "{reply} {pointer}"
            );
        }
        let mut everything = Reads::default();
        everything.add("");
        assert_eq!(everything.parse(reply.as_bytes()), Some(whole.clone()));
    }
    let mut reads = Reads::default();
    reads.add("/id");
    assert_eq!(reads.parse(br#"{"id": 1"#), None, "not JSON");
    assert_eq!(reads.parse(br#"{"id": 1} {}"#), None, "two values");
}
