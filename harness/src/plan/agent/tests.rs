use super::{AGENT_OP_ID_SPAN, AgentShare};

#[test]
fn parse_reads_i_of_n_and_names_the_flag() {
    assert_eq!(
        AgentShare::parse("2/4"),
        Ok(AgentShare { index: 2, count: 4 })
    );
    for (text, reason) in [
        ("2", "expected I/N"),
        ("0/4", "I must be 1 to 4"),
        ("5/4", "I must be 1 to 4"),
        ("1/0", "N must be 1 to"),
        ("a/4", "I is not a whole number"),
    ] {
        let error = AgentShare::parse(text).unwrap_err().to_string();
        assert!(error.starts_with(&format!("--agent `{text}`")), "{error}");
        assert!(error.contains(reason), "{error}");
    }
}

#[test]
fn every_user_belongs_to_exactly_one_agent() {
    for users_total in [1_u32, 2, 7, 100] {
        for count in 1..=5_u32 {
            let mut seen = vec![0_u32; users_total as usize + 1];
            for index in 1..=count {
                let share = AgentShare { index, count };
                for local in 0..share.users(users_total) {
                    let user = share.user(local);
                    assert_eq!(AgentShare::agent_of(count, user), index);
                    seen[user as usize] += 1;
                }
            }
            assert!(
                seen[1..].iter().all(|times| *times == 1),
                "{users_total} users, {count} agents: {seen:?}"
            );
        }
    }
}

#[test]
fn agents_op_ids_are_disjoint_spans() {
    let first = AgentShare { index: 1, count: 3 };
    let third = AgentShare { index: 3, count: 3 };
    assert_eq!(first.op_id_first(), crate::load::SHOPPER_OP_ID_FIRST);
    assert_eq!(
        third.op_id_first() - first.op_id_first(),
        2 * AGENT_OP_ID_SPAN
    );
    assert!(first.seeds() && !third.seeds());
}
